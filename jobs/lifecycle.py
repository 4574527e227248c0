"""The one lifecycle of Korai's durable jobs (a video's identification, an export).

Both models keep their state in a `status` field. Its values, which of them are final, active or
may be run again, and which moves between them are allowed, are declared here once, and every
change of a job's status goes through `transition()`: it refuses a move that is not allowed,
writes the job's timeline and, once the transaction commits, sends `status_changed`, the one
place where metrics (and any future status push) hook in.

    pending ──> processing ──> completed
       │            ├────────> partial     (exports: some clips failed)
       │            ├────────> failed
       └────────────┴────────> cancelled
    failed, partial, cancelled, or a stuck pending/processing job ──> pending (run again)
    failed, partial ──> processing (a run replayed from the Inngest dashboard)

A new state is added here, in the models' choices (a migration) and where it is shown (the
admin's badge colours); nothing else names the states one by one.
"""

from django.db import transaction
from django.dispatch import Signal
from django.utils import timezone

PENDING = "pending"
PROCESSING = "processing"
COMPLETED = "completed"
PARTIAL = "partial"
FAILED = "failed"
CANCELLED = "cancelled"

# A job in a final state has stopped: no step of it writes anything any more.
FINAL = frozenset({COMPLETED, PARTIAL, FAILED, CANCELLED})
# Waiting for its run, or being worked on by it: these can be cancelled.
ACTIVE = frozenset({PENDING, PROCESSING})
# What "run again" takes without asking whether the job is stuck (an active job is run again
# only when it is stuck: see operations.selectors). A completed job has nothing left to do.
RERUNNABLE = frozenset({FAILED, PARTIAL, CANCELLED})

ALLOWED = {
    # A rerun of a stuck job sends it back to pending from pending or processing.
    PENDING: frozenset({PROCESSING, FAILED, CANCELLED, PENDING}),
    # Processing again: a newer run (a replay) takes the job over.
    PROCESSING: frozenset({PROCESSING, COMPLETED, PARTIAL, FAILED, CANCELLED, PENDING}),
    COMPLETED: frozenset(),
    # A run may take over a failed job: a replay from the Inngest dashboard.
    PARTIAL: frozenset({PENDING, PROCESSING}),
    FAILED: frozenset({PENDING, PROCESSING}),
    CANCELLED: frozenset({PENDING}),
}

# Sent after the transaction that changed a job's status commits, once per change:
# `sender` is the job's model, with `job`, `old` and `new` (status values).
status_changed = Signal()


class TransitionRefused(Exception):
    """A status change the lifecycle does not allow (e.g. cancelling a completed job)."""

    def __init__(self, job, new: str):
        self.job, self.old, self.new = job, job.status, new
        super().__init__(
            f"{job._meta.verbose_name} {job.pk} is {job.status}: it cannot become {new}"
        )


def transition(job, new: str, *, step: str, attempt: int = 0, detail: str = "") -> None:
    """Move `job` to status `new`, or raise TransitionRefused. The caller holds the job's row
    locked in a transaction and saves it afterwards (with its other changes). A final status
    sets `finished_at`; going back to pending clears the previous run's times and error.

    A job told to stay where it is (`processing` again, by a newer run) keeps its status and
    sends nothing: it did not change."""
    old = job.status
    if new not in ALLOWED[old]:
        raise TransitionRefused(job, new)
    if new == old:
        return
    job.status = new
    now = timezone.now()
    if new in FINAL:
        job.finished_at = now
    elif new == PENDING:
        job.last_error = ""
        job.started_at = None
        job.finished_at = None
    move = f"{old} → {new}"
    job.timeline = [
        *job.timeline,
        timeline_entry(step=step, attempt=attempt, detail=f"{move}: {detail}" if detail else move),
    ]
    sender = type(job)
    transaction.on_commit(
        lambda: status_changed.send(sender=sender, job=job, old=old, new=new), robust=True
    )


def timeline_entry(*, step: str, attempt: int, detail: str = "") -> dict:
    """One line of a job's timeline (`TrackedJob.timeline`), as the admin shows it."""
    return {"step": step, "at": timezone.now().isoformat(), "attempt": attempt, "detail": detail}
