"""The outbox: every Inngest event Korai sends is first a row written with the data it refers to.

`event_record` writes the row inside the caller's transaction and delivers it after commit, with
one short attempt, so a rollback never sends anything and an Inngest outage never fails (or slows)
a request. Whatever that attempt misses, `events_resend_undelivered` delivers later: the
`resend_events` command, the admin's actions and the cron function all call it.

Each row carries a deterministic Inngest event id, so sending it twice (a resend racing the
first attempt, a timeout after Inngest had already accepted it) is dropped by Inngest's
de-duplication within 24 hours.
"""

from __future__ import annotations

from collections.abc import Iterable

from django.contrib.contenttypes.models import ContentType
from django.db import models, transaction
from django.db.models import Q, QuerySet

from outbox.delivery import RESEND_BATCH_SIZE, DeliveryReport, events_deliver
from outbox.dispatch import deliver_after_commit
from outbox.models import OutboxEvent
from outbox.selectors import events_undelivered


@transaction.atomic
def event_record(
    *,
    name: str,
    data: dict,
    job: models.Model | None = None,
    deleted_subject_id: str | None = None,
) -> OutboxEvent:
    """Write the event in the caller's transaction; deliver it once that transaction commits.

    The id is `{name}:{job id}:{n}`, n one more than the job's earlier events of this name: a
    rerun gets a new id (a new run), a resend of this row keeps its id (de-duplicated by
    Inngest). An event about a row that is being deleted (`deleted_subject_id`) names no job,
    so it outlives the row."""
    if not name:
        raise ValueError("An event needs a name.")
    if not isinstance(data, dict):
        raise ValueError(f"Event data must be a JSON object, got {type(data).__name__}.")
    if job is None and not deleted_subject_id:
        raise ValueError("An event needs the job it is about.")
    if job is None:
        prefix = f"{name}:{deleted_subject_id}:"
        earlier = OutboxEvent.objects.filter(event_id__startswith=prefix).count()
        event = OutboxEvent.objects.create(event_id=f"{prefix}{earlier + 1}", name=name, data=data)
    else:
        # Serialises concurrent events of one job (two reruns at once) so both cannot take
        # the same n and fail on the unique event id. A no-op on SQLite, whose writers take
        # the database lock at BEGIN anyway (settings: transaction_mode IMMEDIATE).
        list(type(job).objects.select_for_update().filter(pk=job.pk).values_list("pk"))
        job_type = ContentType.objects.get_for_model(job)
        earlier = OutboxEvent.objects.filter(name=name, job_type=job_type, job_id=job.pk).count()
        event = OutboxEvent.objects.create(
            event_id=f"{name}:{job.pk}:{earlier + 1}",
            name=name,
            data=data,
            job_type=job_type,
            job_id=job.pk,
        )
    # robust: the data is committed by now; a failure here must not turn the request into a
    # 500. Delivery records network failures on the row instead of raising.
    transaction.on_commit(lambda: deliver_after_commit([event.pk]), robust=True)
    return event


def events_resend_undelivered(
    *,
    limit: int | None = None,
    jobs: Iterable[QuerySet] | None = None,
    dry_run: bool = False,
    batch_size: int = RESEND_BATCH_SIZE,
) -> DeliveryReport:
    """Deliver undelivered events, oldest first, `batch_size` rows at a time (memory stays
    bounded whatever the backlog). Each row is tried at most once per call, so a call ends even
    while Inngest is down. Safe to run concurrently: on PostgreSQL each batch is locked with
    SKIP LOCKED, so two runs never send the same row at the same time. With `jobs`
    (querysets of job rows), only those jobs' events."""
    if limit is not None and limit < 1:
        raise ValueError("limit must be a positive number.")
    report = DeliveryReport()
    base = events_undelivered(jobs=jobs)
    if dry_run:
        count = base.count()
        report.skipped = min(count, limit) if limit is not None else count
        return report
    # Keyset pagination on (created_at, id): rows that fail are still undelivered, and must
    # not be picked up again by this same call.
    cursor: tuple | None = None
    remaining = limit
    while remaining is None or remaining > 0:
        size = batch_size if remaining is None else min(batch_size, remaining)
        page = base
        if cursor is not None:
            created_at, pk = cursor
            page = page.filter(Q(created_at__gt=created_at) | Q(created_at=created_at, pk__gt=pk))
        batch = list(page.only("pk", "created_at")[:size])
        if not batch:
            break
        cursor = (batch[-1].created_at, batch[-1].pk)
        report.add(events_deliver(events=batch))
        if remaining is not None:
            remaining -= len(batch)
    return report
