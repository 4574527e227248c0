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

import logging
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import timedelta

import requests
from django.conf import settings
from django.db import connection, transaction
from django.db.models import Q, QuerySet
from django.utils import timezone

from exports.models import Export
from korai.errors import ApplicationError
from korai.inngest import event_api_url
from korai.inngest import event_key as inngest_event_key
from outbox.dispatch import deliver_after_commit
from outbox.models import OutboxEvent
from outbox.selectors import events_undelivered
from videos.models import Video

logger = logging.getLogger(__name__)

# Rows sent in one POST by the resend: small enough to stay far below the event API's payload
# limit, large enough that a backlog of thousands is a few dozen requests.
RESEND_BATCH_SIZE = 50
# An operator reading a report needs the distinct reasons, not ten thousand copies of one.
MAX_REPORTED_ERRORS = 10


class DeliveryError(Exception):
    """The event API did not accept a batch; the message is what an operator sees."""


@dataclass
class DeliveryReport:
    """What one delivery pass did. `skipped`: rows not sent by this pass because they were
    already delivered, are being sent by a concurrent pass, or this was a dry run."""

    delivered: int = 0
    failed: int = 0
    skipped: int = 0
    errors: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.failed == 0

    def add(self, other: DeliveryReport) -> None:
        self.delivered += other.delivered
        self.failed += other.failed
        self.skipped += other.skipped
        for error in other.errors:
            self._note_error(error)

    def _note_error(self, error: str) -> None:
        if error not in self.errors and len(self.errors) < MAX_REPORTED_ERRORS:
            self.errors.append(error)


def inngest_event_api_url() -> str:
    """Where events go (korai.inngest resolves it from settings, as the SDK would); raises
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


@transaction.atomic
def event_record(
    *,
    name: str,
    data: dict,
    video: Video | None = None,
    export: Export | None = None,
) -> OutboxEvent:
    """Write the event in the caller's transaction; deliver it once that transaction commits.

    The id is `{name}:{subject id}:{n}`, the subject being the export if given, else the video,
    and n one more than the subject's earlier events of this name: a rerun gets a new id (a new
    run), a resend of this row keeps its id (de-duplicated by Inngest)."""
    if not name:
        raise ValueError("An event needs a name.")
    if not isinstance(data, dict):
        raise ValueError(f"Event data must be a JSON object, got {type(data).__name__}.")
    subject = export if export is not None else video
    if subject is None:
        raise ValueError("An event needs the video or export it is about.")
    # Serialises concurrent events of one subject (two reruns at once) so both cannot take
    # the same n and fail on the unique event id. A no-op on SQLite, whose writers take the
    # database lock at BEGIN anyway (settings: transaction_mode IMMEDIATE).
    list(type(subject).objects.select_for_update().filter(pk=subject.pk).values_list("pk"))
    subject_filter = {"export": export} if export is not None else {"video": video}
    earlier = OutboxEvent.objects.filter(name=name, **subject_filter).count()
    event = OutboxEvent.objects.create(
        event_id=f"{name}:{subject.pk}:{earlier + 1}",
        name=name,
        data=data,
        # An export's events belong to its video too: `--video ID` and the video's admin page
        # show them.
        video_id=video.pk if video is not None else export.video_id,
        export=export,
    )
    # robust: the data is committed by now; a failure here must not turn the request into a
    # 500. Delivery records network failures on the row instead of raising.
    transaction.on_commit(lambda: deliver_after_commit([event.pk]), robust=True)
    return event


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
    try:
        response = requests.post(url, json=payload, timeout=(timeout, timeout))
    except requests.Timeout:
        raise DeliveryError(f"Inngest event API did not answer within {timeout:g}s") from None
    except requests.ConnectionError as exc:
        raise DeliveryError(f"Inngest event API unreachable: {_short(exc)}") from None
    except requests.RequestException as exc:
        raise DeliveryError(f"Inngest event API request failed: {_short(exc)}") from None
    if not response.ok:
        raise DeliveryError(
            f"Inngest event API answered {response.status_code}: {response.text[:200]}"
        )


def _short(exc: Exception) -> str:
    # requests nests urllib3's errors; the innermost reason is the useful part.
    reason = exc.args[0] if exc.args else exc
    reason = getattr(reason, "reason", reason)
    return str(reason)[:300]


def events_resend_undelivered(
    *,
    limit: int | None = None,
    video_id=None,
    export_id=None,
    dry_run: bool = False,
    batch_size: int = RESEND_BATCH_SIZE,
) -> DeliveryReport:
    """Deliver undelivered events, oldest first, `batch_size` rows at a time (memory stays
    bounded whatever the backlog). Each row is tried at most once per call, so a call ends even
    while Inngest is down. Safe to run concurrently: on PostgreSQL each batch is locked with
    SKIP LOCKED, so two runs never send the same row at the same time."""
    if limit is not None and limit < 1:
        raise ValueError("limit must be a positive number.")
    report = DeliveryReport()
    base = events_undelivered(video_id=video_id, export_id=export_id)
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


@dataclass
class RerunReport:
    videos: list[str] = field(default_factory=list)
    exports: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)  # "<kind> <id>: why"

    @property
    def total(self) -> int:
        return len(self.videos) + len(self.exports)


def jobs_rerun(
    *,
    failed: bool = False,
    stuck_for: timedelta | None = None,
    video_id=None,
    export_id=None,
    video_ids: Iterable | QuerySet | None = None,
    export_ids: Iterable | QuerySet | None = None,
    limit: int | None = None,
    dry_run: bool = False,
) -> RerunReport:
    """Run failed and/or stuck videos and exports again (each back to `pending` with a new
    event, so a new Inngest run). A stuck job whose event is still undelivered is left to the
    resend: running it again as well would start it twice.

    `video_id` limits it to one video and its exports, `export_id` to one export (the
    command's `--video`/`--export`). `video_ids`/`export_ids` (ids or a `values("pk")`
    queryset, e.g. an admin selection) limit it to exactly those jobs: given only one of them,
    no job of the other kind is run again."""
    # Imported here: those services record their events through this module.
    from exports.selectors import exports_stuck
    from exports.services import export_rerun
    from videos.selectors import videos_stuck
    from videos.services import video_rerun

    if limit is not None and limit < 1:
        raise ValueError("limit must be a positive number.")
    report = RerunReport()
    if not failed and stuck_for is None:
        return report

    # A job with an undelivered event of its own is waiting for the resend, not stuck.
    waiting = OutboxEvent.objects.filter(delivered_at__isnull=True)
    video_q = Q(pk__in=[])
    export_q = Q(pk__in=[])
    if failed:
        video_q |= Q(processing_status=Video.Status.FAILED)
        # A partial export failed for some clips; running it again renders only those.
        export_q |= Q(status__in=[Export.Status.FAILED, Export.Status.PARTIAL])
    if stuck_for is not None:
        video_q |= Q(pk__in=videos_stuck(older_than=stuck_for).values("pk")) & ~Q(
            pk__in=waiting.filter(export__isnull=True).values("video_id")
        )
        export_q |= Q(pk__in=exports_stuck(older_than=stuck_for).values("pk")) & ~Q(
            pk__in=waiting.filter(export__isnull=False).values("export_id")
        )
    videos = Video.objects.filter(video_q)
    exports = Export.objects.filter(export_q)
    if export_id is not None:
        videos = Video.objects.none()
        exports = exports.filter(pk=export_id)
    if video_id is not None:
        videos = videos.filter(pk=video_id)
        exports = exports.filter(video_id=video_id)
    if video_ids is not None or export_ids is not None:
        videos = videos.filter(pk__in=video_ids) if video_ids is not None else videos.none()
        exports = exports.filter(pk__in=export_ids) if export_ids is not None else exports.none()

    for model, queryset, rerun, ids in (
        (Video, videos, lambda job: video_rerun(video=job), report.videos),
        (Export, exports, lambda job: export_rerun(export=job), report.exports),
    ):
        room = None if limit is None else limit - report.total
        if room is not None and room <= 0:
            break
        pks = list(queryset.order_by("updated_at", "pk").values_list("pk", flat=True).distinct())
        for pk in pks[:room]:
            if not dry_run:
                try:
                    rerun(model.objects.get(pk=pk))
                except ApplicationError as exc:
                    # It changed since it was selected (finished meanwhile): nothing to run.
                    report.skipped.append(f"{model._meta.model_name} {pk}: {exc.message}")
                    continue
            ids.append(str(pk))
    return report
