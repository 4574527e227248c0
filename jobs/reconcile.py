"""Reconciliation: settling, without an operator, a job that Korai believes `pending` or
`processing` while the engine has nothing running for it.

The `-failed` and `-cancelled` functions (`jobs.endings`) settle a job seconds after its run
ends; this is the net under them, for what they can miss: their own retries exhausted, a run
that ended while Korai was down, a run the engine never started or forgot (the development
executor restarted). Every few minutes (`operations.functions.reconcile_jobs`) each job with no
progress for `KORAI_RECONCILE_AFTER_MINUTES`, whose events were all delivered, is looked at:

- `processing` by a run: the engine is asked about that run (`integrations.inngest_runs`).
  Still running or scheduled: left alone (a long render). Ended failed or completed without
  finishing the job: the job ends failed, saying so; cancelled: the job ends cancelled. Unknown
  to the engine on two passes in a row: its event is sent again (a new run).
- `pending`, its event delivered long ago, and no run ever started: its event is sent again. If
  the first run was only waiting in Inngest's queue, it stops at its first step without calling
  any API when it starts (`jobs.records.job_start`: its event was superseded).

What it did, and why, is on the job's timeline (step `reconcile`), in the admin."""

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import timedelta

from django.db import transaction
from django.db.models import QuerySet

from core.exceptions import ApplicationError
from integrations.inngest_runs import EngineUnavailable, run_of
from jobs import lifecycle
from jobs.records import job_cancelled_in_engine, job_fail, job_note
from jobs.reruns import JobKind
from outbox.selectors import jobs_waiting_for_delivery

STEP = "reconcile"
# Jobs looked at per pass; the rest wait for the next one.
BATCH = 100


@dataclass
class ReconcileReport:
    checked: int = 0
    settled: list[str] = field(default_factory=list)  # "<kind> <id>: what and why"
    unreachable: str = ""  # the engine's API could not be asked

    def as_dict(self) -> dict:
        return {"checked": self.checked, "settled": self.settled, "unreachable": self.unreachable}


def jobs_reconcile(
    *, candidates: Sequence[tuple[JobKind, QuerySet]], older_than: timedelta
) -> ReconcileReport:
    """Look at the active jobs among `candidates` with no progress for `older_than` (oldest
    first, at most BATCH) and settle those the engine has nothing running for."""
    report = ReconcileReport()
    for kind, queryset in candidates:
        stale = kind.stuck(older_than=older_than).filter(pk__in=queryset.values("pk"))
        stale = stale.exclude(pk__in=jobs_waiting_for_delivery(kind.model))
        for job in stale[: BATCH - report.checked]:
            report.checked += 1
            try:
                outcome = _reconcile(kind, job)
            except EngineUnavailable as exc:
                report.unreachable = str(exc)
                return report  # the next pass tries again
            except ApplicationError:
                continue  # it changed meanwhile (finished, cancelled): nothing to settle
            if outcome:
                report.settled.append(f"{kind.name} {job.pk}: {outcome}")
    return report


def _reconcile(kind: JobKind, job) -> str:
    """What was done to `job`, or "" if nothing was needed."""
    if job.status == lifecycle.PENDING:
        return _send_again(kind, job, "its event was delivered but no run started")
    run = run_of(job.inngest_run_id) if job.inngest_run_id else None
    if run is None:
        unknown = f"Inngest knows no run {job.inngest_run_id or '-'}"
        # The server answers so for a run it forgot and for a blip of its own store: act on
        # the second answer, a pass later, not on the first (the note delays the next look).
        if job.timeline and job.timeline[-1]["detail"] == unknown:
            return _send_again(kind, job, unknown)
        with transaction.atomic():
            job = type(job).objects.select_for_update().get(pk=job.pk)
            job_note(job, step=STEP, attempt=0, detail=unknown)
            job.save(update_fields=["timeline", "updated_at"])
        return ""
    if not run.ended:
        return ""
    if run.status == "Cancelled":
        settled = job_cancelled_in_engine(
            model=kind.model, job_id=str(job.pk), run_id=run.run_id, event_id="", step=STEP
        )
        return _outcome(settled, f"its run {run.run_id} was cancelled in Inngest")
    reason = (
        f"its run {run.run_id} ended {run.status} in Inngest"
        if run.status != "Completed"
        else f"its run {run.run_id} completed in Inngest without finishing it"
    )
    settled = job_fail(
        model=kind.model,
        job_id=str(job.pk),
        run_id=run.run_id,
        event_id="",
        error=f"reconciliation: {reason}",
        failed=kind.failed_status,
        step=STEP,
    )
    return _outcome(settled, reason)


def _send_again(kind: JobKind, job, why: str) -> str:
    with transaction.atomic():
        job = kind.rerun(job)
        job_note(job, step=STEP, attempt=0, detail=f"{why}: its event was sent again")
        job.save(update_fields=["timeline", "updated_at"])
    return f"{why}: sent again"


def _outcome(job, what: str) -> str:
    """`what`, if this pass is what settled the job (its last timeline line is ours)."""
    if job is None or not job.timeline or job.timeline[-1]["step"] != STEP:
        return ""
    return what
