from django.db.models import OuterRef, QuerySet, Subquery

from outbox.models import OutboxEvent

# What unblocks a job whose event has not reached Inngest: in development, a running Dev Server
# (`make run` starts one, or its stand-in, when it can); anywhere, the resend command.
UNDELIVERED_ADVICE = "start the Inngest Dev Server or run `python manage.py resend_events`"


def events_undelivered(*, video_id=None, export_id=None) -> QuerySet[OutboxEvent]:
    """Undelivered events, oldest first (the partial index `outbox_undelivered` serves this).
    A video's events include those of its exports."""
    events = OutboxEvent.objects.filter(delivered_at__isnull=True)
    if video_id is not None:
        events = events.filter(video_id=video_id)
    if export_id is not None:
        events = events.filter(export_id=export_id)
    return events.order_by("created_at", "pk")


def event_superseded(*, event_id: str) -> bool:
    """Whether a later event of the same name was written for the same subject (the export if
    the event has one, else the video): a rerun superseded this one, so news of its run is
    stale. False for an id Korai never wrote (a seed-shaped event sent by someone else)."""
    event = (
        OutboxEvent.objects.filter(event_id=event_id)
        .only("name", "video_id", "export_id", "created_at")
        .first()
    )
    if event is None:
        return False
    # The subject as `outbox.services.event_record` counts it for the event's number.
    if event.export_id is not None:
        subject = {"export_id": event.export_id}
    else:
        subject = {"video_id": event.video_id}
    return OutboxEvent.objects.filter(
        name=event.name, created_at__gt=event.created_at, **subject
    ).exists()


def undelivered_event_error(*, job: str) -> Subquery:
    """For a queryset of videos (`job="video"`) or exports (`job="export"`): the `last_error`
    of the job's newest undelivered event, as a subquery of the same SELECT, so listing or
    polling jobs costs no extra query. "" for an event not tried yet, NULL when every event of
    the job was delivered. A video's own events only, not its exports'."""
    events = OutboxEvent.objects.filter(delivered_at__isnull=True)
    if job == "video":
        events = events.filter(video_id=OuterRef("pk"), export__isnull=True)
    else:
        events = events.filter(export_id=OuterRef("pk"))
    return Subquery(events.order_by("-created_at").values("last_error")[:1])


def video_undelivered_event_error(*, video_id) -> str | None:
    """`undelivered_event_error(job="video")` of one video, as a query of its own: for the
    status endpoint, which needs it only while the video is pending."""
    return (
        OutboxEvent.objects.filter(
            delivered_at__isnull=True, video_id=video_id, export__isnull=True
        )
        .order_by("-created_at")
        .values_list("last_error", flat=True)
        .first()
    )


def pending_reason(undelivered_error: str | None) -> str | None:
    """Why a pending job has not started, from `undelivered_event_error`; None when its event
    was delivered (then Inngest has it and the job waits for its turn)."""
    if undelivered_error is None:
        return None
    reason = undelivered_error or "not sent yet (the sender may still be on it)"
    return f"event not delivered: {reason}. To deliver it, {UNDELIVERED_ADVICE}."
