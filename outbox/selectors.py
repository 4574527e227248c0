from collections.abc import Iterable

from django.conf import settings
from django.contrib.contenttypes.models import ContentType
from django.db import models
from django.db.models import OuterRef, Q, QuerySet, Subquery

from outbox.models import OutboxEvent

# What unblocks a job whose event has not reached Inngest: in development, a running Dev Server
# (`make run` starts one, or its stand-in, when it can); anywhere, the resend command.
UNDELIVERED_ADVICE = "start the Inngest Dev Server or run `python manage.py resend_events`"
# What a job's owner reads while its event waits: nothing to do for them, no internal address.
WAITING_FOR_DELIVERY = "waiting to be sent to the job engine; it will be retried automatically"
# With KORAI_DEV_EXECUTOR_RUNNING: the development executor takes the event within a second.
WAITING_FOR_DEV_EXECUTOR = "waiting for the development executor to take its event"


def events_undelivered(*, jobs: Iterable[QuerySet] | None = None) -> QuerySet[OutboxEvent]:
    """Undelivered events, oldest first (the partial index `outbox_undelivered` serves this);
    with `jobs` (querysets of job rows, of any models), only those jobs' events."""
    events = OutboxEvent.objects.filter(delivered_at__isnull=True)
    if jobs is not None:
        events = events.filter(events_of(jobs))
    return events.order_by("created_at", "pk")


def events_of(jobs: Iterable[QuerySet]) -> Q:
    """The events of the rows of these querysets (a video and its exports, say)."""
    condition = Q(pk__in=[])
    for queryset in jobs:
        job_type = ContentType.objects.get_for_model(queryset.model)
        condition |= Q(job_type=job_type, job_id__in=queryset.values("pk"))
    return condition


def undelivered_event_error(model: type[models.Model]) -> Subquery:
    """For a queryset of `model` (a job): the `last_error` of the job's newest undelivered
    event, as a subquery of the same SELECT, so listing or polling jobs costs no extra query.
    "" for an event not tried yet, NULL when every event of the job was delivered."""
    events = OutboxEvent.objects.filter(
        delivered_at__isnull=True,
        job_type=ContentType.objects.get_for_model(model),
        job_id=OuterRef("pk"),
    )
    return Subquery(events.order_by("-created_at").values("last_error")[:1])


def job_undelivered_event_error(job: models.Model) -> str | None:
    """`undelivered_event_error` of one job, as a query of its own: for the status endpoint,
    which needs it only while the job is pending."""
    return (
        OutboxEvent.objects.filter(
            delivered_at__isnull=True,
            job_type=ContentType.objects.get_for_model(job),
            job_id=job.pk,
        )
        .order_by("-created_at")
        .values_list("last_error", flat=True)
        .first()
    )


def jobs_waiting_for_delivery(model: type[models.Model]) -> QuerySet:
    """The ids of `model`'s jobs with an undelivered event of their own: they wait for the
    resend, not for a rerun."""
    return OutboxEvent.objects.filter(
        delivered_at__isnull=True, job_type=ContentType.objects.get_for_model(model)
    ).values("job_id")


def pending_reason(undelivered_error: str | None) -> str | None:
    """Why a pending job has not started, for its owner (the REST API), from
    `undelivered_event_error`: a plain sentence, never the event API's address or the error.
    None when its event was delivered (then Inngest has it and the job waits for its turn)."""
    if undelivered_error is None:
        return None
    if settings.KORAI_DEV_EXECUTOR_RUNNING:
        return WAITING_FOR_DEV_EXECUTOR
    return WAITING_FOR_DELIVERY


def pending_reason_for_staff(undelivered_error: str | None) -> str | None:
    """`pending_reason` for the admin: the last delivery error and what unblocks the job."""
    if undelivered_error is None or settings.KORAI_DEV_EXECUTOR_RUNNING:
        return pending_reason(undelivered_error)
    reason = undelivered_error or "not sent yet (the sender may still be on it)"
    return f"event not delivered: {reason}. To deliver it, {UNDELIVERED_ADVICE}."
