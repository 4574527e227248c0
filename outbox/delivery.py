"""Delivery of recorded events to Inngest's event API: one POST per batch, one short attempt,
the outcome written on each row. `events_deliver` never raises for a delivery failure: the rows
stay undelivered for the next resend."""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass, field

import requests
from django.conf import settings
from django.db import connection, transaction
from django.db.models import F
from django.utils import timezone

from core.inngest import event_api_url
from core.inngest import event_key as inngest_event_key
from core.metrics import observe_api_call
from core.net import connection_problem, origin
from outbox.models import OutboxEvent

logger = logging.getLogger(__name__)

# Rows sent in one POST by the resend: small enough to stay far below the event API's payload
# limit, large enough that a backlog of thousands is a few dozen requests.
RESEND_BATCH_SIZE = 50
# An operator reading a report needs the distinct reasons, not ten thousand copies of one.
MAX_REPORTED_ERRORS = 10


class DeliveryError(Exception):
    """The event API did not accept a batch; the message is what an operator sees. `outcome`
    is how the call counts in the external API metrics (retriable, or refused for a 4xx)."""

    def __init__(self, message: str, *, outcome: str = "retriable") -> None:
        super().__init__(message)
        self.outcome = outcome


@dataclass
class DeliveryReport:
    """What one delivery pass did. `skipped`: rows not sent by this pass because they were
    already delivered, are being sent by a concurrent pass, or this was a dry run.
    `for_dev_executor`: rows left recorded, unsent, for the development executor to take
    (KORAI_DEV_EXECUTOR_RUNNING): not a failure."""

    delivered: int = 0
    failed: int = 0
    skipped: int = 0
    for_dev_executor: int = 0
    errors: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.failed == 0

    def add(self, other: DeliveryReport) -> None:
        self.delivered += other.delivered
        self.failed += other.failed
        self.skipped += other.skipped
        self.for_dev_executor += other.for_dev_executor
        for error in other.errors:
            self._note_error(error)

    def _note_error(self, error: str) -> None:
        if error not in self.errors and len(self.errors) < MAX_REPORTED_ERRORS:
            self.errors.append(error)


def inngest_event_api_url() -> str:
    """Where events go (core.inngest resolves it from settings, as the SDK would); raises
    DeliveryError when no event key is configured."""
    if not inngest_event_key():
        raise DeliveryError("INNGEST_EVENT_KEY is not set (required outside INNGEST_DEV mode)")
    return event_api_url()


def event_payload(event: OutboxEvent) -> dict:
    # `ts` is when the row was written, so every resend of the row is the same event.
    return {
        "id": event.event_id,
        "name": event.name,
        "data": event.data,
        "ts": int(event.created_at.timestamp() * 1000),
    }


def events_deliver(*, events: Iterable[OutboxEvent]) -> DeliveryReport:
    """Send these rows' events in one POST, once, with a short timeout; record the outcome on
    each row. Rows already delivered, or being sent right now by another pass, are skipped.
    Never raises for a delivery failure: the rows stay undelivered for the next resend."""
    return events_deliver_ids(ids=[event.pk for event in events])


def events_deliver_ids(*, ids: list) -> DeliveryReport:
    """`events_deliver` by primary keys (what the background sender holds)."""
    report = DeliveryReport()
    if not ids:
        return report
    if settings.KORAI_DEV_EXECUTOR_RUNNING:
        # No Inngest to POST to: the development executor takes the rows from the outbox.
        report.for_dev_executor = OutboxEvent.objects.filter(
            pk__in=ids, delivered_at__isnull=True
        ).count()
        report.skipped = len(ids) - report.for_dev_executor
        return report
    if connection.features.has_select_for_update_skip_locked:
        # PostgreSQL: hold the rows for the (at most a timeout long) POST, so a concurrent
        # resend skips them instead of sending them a second time.
        with transaction.atomic():
            rows = list(
                OutboxEvent.objects.select_for_update(skip_locked=True)
                .filter(pk__in=ids, delivered_at__isnull=True)
                .order_by("created_at", "pk")
            )
            report.add(_send_and_record(rows))
    else:
        # SQLite has no row locks, and a transaction there holds the whole database's write lock:
        # send outside one. Two passes at the same moment may both send a row; the deterministic
        # event id makes Inngest drop the second.
        rows = list(
            OutboxEvent.objects.filter(pk__in=ids, delivered_at__isnull=True).order_by(
                "created_at", "pk"
            )
        )
        report.add(_send_and_record(rows))
    report.skipped += len(ids) - len(rows)
    return report


def _send_and_record(rows: list[OutboxEvent]) -> DeliveryReport:
    report = DeliveryReport()
    if not rows:
        return report
    now = timezone.now()
    try:
        _post([event_payload(row) for row in rows])
    except DeliveryError as exc:
        error = str(exc)
        logger.warning(
            "Inngest event delivery failed for %d event(s): %s",
            len(rows),
            error,
            extra={"event_ids": [row.event_id for row in rows]},
        )
        for row in rows:
            row.attempts += 1
            row.last_error = error
            row.last_attempt_at = now
        OutboxEvent.objects.bulk_update(rows, ["attempts", "last_error", "last_attempt_at"])
        report.failed = len(rows)
        report.errors.append(error)
        return report
    for row in rows:
        row.attempts += 1
        row.last_error = ""
        row.last_attempt_at = now
        row.delivered_at = now
    OutboxEvent.objects.bulk_update(
        rows, ["attempts", "last_error", "last_attempt_at", "delivered_at"]
    )
    report.delivered = len(rows)
    return report


def _post(payload: list[dict]) -> None:
    url = inngest_event_api_url()
    timeout = settings.INNGEST_SEND_TIMEOUT_SECONDS
    with observe_api_call("inngest-events", lambda err: getattr(err, "outcome", "retriable")):
        try:
            response = requests.post(url, json=payload, timeout=(timeout, timeout))
        except requests.Timeout:
            raise DeliveryError(
                f"Inngest event API did not answer within {timeout:g}s ({origin(url)})"
            ) from None
        except requests.ConnectionError as exc:
            raise DeliveryError(
                f"Inngest event API unreachable: {connection_problem(exc)} ({origin(url)})"
            ) from None
        except requests.RequestException as exc:
            raise DeliveryError(
                f"Inngest event API request failed: {connection_problem(exc)} ({origin(url)})"
            ) from None
        if not response.ok:
            retriable = response.status_code == 429 or response.status_code >= 500
            raise DeliveryError(
                f"Inngest event API answered {response.status_code}: {response.text[:200]}",
                outcome="retriable" if retriable else "refused",
            )


def events_mark_delivered(*, ids: list) -> int:
    """Record these rows as delivered without sending them anywhere: the development executor
    (`devtools`) took them straight from the outbox, standing in for Inngest. Rows already
    delivered are left as they are. Returns how many rows it marked."""
    now = timezone.now()
    return OutboxEvent.objects.filter(pk__in=ids, delivered_at__isnull=True).update(
        delivered_at=now, last_attempt_at=now, last_error="", attempts=F("attempts") + 1
    )
