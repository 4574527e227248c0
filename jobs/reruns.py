"""Running failed, cancelled and stuck jobs again, for any kind of durable job: what the
`resend_events` options, the admin's "Run again" actions and buttons select."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import timedelta

from django.db.models import Q, QuerySet

from core.exceptions import ApplicationError
from jobs import lifecycle
from jobs.models import TrackedJob
from outbox.selectors import jobs_waiting_for_delivery


@dataclass(frozen=True)
class JobKind:
    """One kind of durable job as the reruns see it; each app declares its own."""

    model: type[TrackedJob]
    # The app's rerun service: back to pending with a new event (a new Inngest run);
    # `rerun(job, only_if=queryset)` refuses (ConflictError) a job no longer in the queryset
    # once it is locked.
    rerun: Callable[..., TrackedJob]
    # The app's stuck rule: `stuck(older_than=...)`, a queryset.
    stuck: Callable[..., QuerySet]
    # What "failed" selects: a partial export failed for some clips and reruns only those.
    failed_statuses: frozenset[str] = frozenset({lifecycle.FAILED})
    # The status a failed run ends the job in, or a function of the locked job returning it.
    failed_status: str | Callable[[TrackedJob], str] = lifecycle.FAILED

    @property
    def name(self) -> str:
        return self.model._meta.model_name


@dataclass
class RerunReport:
    ran: dict[str, list[str]] = field(default_factory=dict)  # kind name -> ids run again
    skipped: list[str] = field(default_factory=list)  # "<kind> <id>: why"

    @property
    def total(self) -> int:
        return sum(len(ids) for ids in self.ran.values())

    def of(self, kind: str) -> list[str]:
        return self.ran.get(kind, [])


def jobs_rerun(
    *,
    candidates: Sequence[tuple[JobKind, QuerySet]],
    failed: bool = False,
    cancelled: bool = False,
    stuck_for: timedelta | None = None,
    limit: int | None = None,
    dry_run: bool = False,
) -> RerunReport:
    """Run failed, cancelled and/or stuck jobs among `candidates` again, kind by kind, oldest
    progress first, at most `limit` in all. A stuck job whose event is still undelivered is
    left to the resend: running it again as well would start it twice."""
    if limit is not None and limit < 1:
        raise ValueError("limit must be a positive number.")
    report = RerunReport()
    if not failed and not cancelled and stuck_for is None:
        return report
    for kind, queryset in candidates:
        ids = report.ran.setdefault(kind.name, [])
        room = None if limit is None else limit - report.total
        if room is not None and room <= 0:
            break
        chosen = queryset.filter(_selection(kind, failed, cancelled, stuck_for))
        pks = list(chosen.order_by("updated_at", "pk").values_list("pk", flat=True).distinct())
        for pk in pks[:room]:
            if not dry_run:
                try:
                    kind.rerun(kind.model.objects.get(pk=pk), only_if=chosen)
                except ApplicationError as exc:
                    # It changed since it was selected (run again by another rerun, finished
                    # meanwhile): nothing to run.
                    report.skipped.append(f"{kind.name} {pk}: {exc.message}")
                    continue
            ids.append(str(pk))
    return report


def _selection(kind: JobKind, failed: bool, cancelled: bool, stuck_for: timedelta | None) -> Q:
    selected = Q(pk__in=[])
    if failed:
        selected |= Q(status__in=kind.failed_statuses)
    if cancelled:
        selected |= Q(status=lifecycle.CANCELLED)
    if stuck_for is not None:
        stuck = kind.stuck(older_than=stuck_for).values("pk")
        selected |= Q(pk__in=stuck) & ~Q(pk__in=jobs_waiting_for_delivery(kind.model))
    return selected
