from django.db.models import QuerySet

from outbox.models import OutboxEvent


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
