"""What every durable job (a video's identification, an export) does the same way: start a run,
note its steps, fail, run again, cancel. These write the fields of `jobs.models.TrackedJob`, so
an operator can follow a job; the apps' services call them with what differs (the model, the
status a failure ends in, the event a rerun or a cancel records, the refusal's words)."""

import re
import uuid
from collections.abc import Callable
from datetime import timedelta

from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.db import models, transaction
from django.utils import timezone

from core.exceptions import ConflictError
from jobs import lifecycle
from jobs.lifecycle import TransitionRefused, timeline_entry
from jobs.models import TrackedJob

# Error texts are shown in the admin and the API: long enough to act on, bounded in size.
ERROR_MAX_CHARS = 2000

# The timeline's steps that are not a step of the job's function: an operator's cancel and run
# again, and the function's failure handler. Inngest does not retry them as a step, so they
# have no try of their own.
CANCEL_STEP = "cancel"
RERUN_STEP = "run-again"
FAILURE_STEP = "on-failure"

# The line `job_begin_run` writes when a run starts working on the job: "run <id>", after the
# move it made ("pending → processing: run <id>") unless the job was processing already.
_RUN_LINE = re.compile(r"(?:\w+ → \w+: )?run (?P<run_id>\S+)")


class JobError(Exception):
    """A job's data makes it impossible to run (unknown video, bad event payload): retrying
    cannot help, the function turns it into a non-retriable failure."""

    @classmethod
    def invalid(cls, error: ValidationError) -> "JobError":
        """The services' validation error, in the API's words: "field: message"."""
        if not hasattr(error, "error_dict"):
            return cls(" ".join(error.messages))
        return cls(
            "; ".join(
                f"{field}: {' '.join(messages)}" for field, messages in error.message_dict.items()
            )
        )


class JobStopped(JobError):
    """The job is no longer this run's to work on: it was cancelled, or run again by a newer
    run, while the step worked. The step writes nothing."""


class JobWaiting(Exception):
    """The job must wait for something another job holds (a video's render lease): the step
    is asked again after `delay`. Not a failure: nothing is recorded as one."""

    def __init__(self, message: str, delay: timedelta) -> None:
        super().__init__(message)
        self.delay = delay


def job_note(job: TrackedJob, *, step: str, attempt: int, detail: str = "") -> None:
    """Append to the job's timeline (the caller saves)."""
    job.timeline = [*job.timeline, timeline_entry(step=step, attempt=attempt, detail=detail)]


def job_triggered(job: TrackedJob, event) -> None:
    """From now on the run of `event` (an outbox row just recorded, or the id of an event that
    someone else sent) is the one that works on the job; see `TrackedJob.run_event_id`."""
    job.run_event_id = event if isinstance(event, str) else event.event_id
    type(job).objects.filter(pk=job.pk).update(run_event_id=job.run_event_id)


def run_is_current(job: TrackedJob, *, run_id: str, event_id: str) -> bool:
    """Whether news of run `run_id`, started by event `event_id`, is about the job's current
    run: not a run of an earlier event (a rerun superseded it), nor an older run of the same
    event (a replay took over). A run of the current event that has not started a step yet
    counts: the job is still `pending`, with the previous run's id."""
    if event_id and job.run_event_id and event_id != job.run_event_id:
        return False
    return job.status == lifecycle.PENDING or job.inngest_run_id in ("", run_id)


def run_of_line(detail: str) -> str | None:
    """The run id of a timeline line that `job_begin_run` wrote, else None."""
    match = _RUN_LINE.fullmatch(detail)
    return match["run_id"] if match else None


def job_begin_run(job: TrackedJob, *, run_id: str, step: str, attempt: int) -> None:
    """Record that Inngest run `run_id` works on the job now, which becomes `processing` (the
    caller holds the row locked and saves). Counted once per run: a step retried or delivered
    twice within the same run is not a new attempt. A cancelled (or completed) job is not
    started again by a late delivery of its event: JobStopped. A failed one is, so that
    replaying a failed run from the Inngest dashboard works."""
    if lifecycle.PROCESSING not in lifecycle.ALLOWED[job.status]:
        raise JobStopped(f"{job._meta.verbose_name} {job.pk} is {job.status}")
    if job.status == lifecycle.PROCESSING:
        job_note(job, step=step, attempt=attempt, detail=f"run {run_id}")
    else:
        lifecycle.transition(
            job, lifecycle.PROCESSING, step=step, attempt=attempt, detail=f"run {run_id}"
        )
    if job.inngest_run_id != run_id:
        job.inngest_run_id = run_id
        job.attempts += 1
        job.started_at = timezone.now()
        job.last_error = ""
    job.finished_at = None


@transaction.atomic
def job_start(
    *,
    model: type[TrackedJob],
    job_id: str,
    run_id: str,
    step: str,
    attempt: int,
    event_id: str = "",
):
    """Mark the job `processing` by run `run_id` of event `event_id`. A job that is already
    `completed` or `cancelled` is left as it is (a duplicate event, or the event of a job
    cancelled before its run started): the caller returns at once, without calling the API. A
    run of an event that a later one superseded (its job was run again, by an operator or by
    reconciliation, while it waited in Inngest's queue) does not start it: JobStopped."""
    job = lock(model, job_id)
    if job.status in (lifecycle.COMPLETED, lifecycle.CANCELLED):
        return job
    if event_id and job.run_event_id and event_id != job.run_event_id:
        raise JobStopped(
            f"{job._meta.verbose_name} {job.pk} is run by event {job.run_event_id} now, "
            f"not by {event_id}"
        )
    job_begin_run(job, run_id=run_id, step=step, attempt=attempt)
    job.save()
    return job


def job_step_failed(
    *, model: type[TrackedJob], job_id: str, step: str, attempt: int, error: str
) -> None:
    """Record a failed attempt of a step (Inngest may still retry it); not on a job that
    stopped meanwhile (a cancelled job keeps no news of its run)."""
    with transaction.atomic():
        job = model.objects.select_for_update().filter(pk=as_uuid(job_id)).first()
        if job is None or job.status not in lifecycle.ACTIVE:
            return
        job.last_error = truncate_error(error)
        job_note(job, step=step, attempt=attempt, detail=f"failed: {job.last_error}")
        job.save(update_fields=["last_error", "timeline", "updated_at"])


def job_fail(
    *,
    model: type[TrackedJob],
    job_id: str,
    run_id: str,
    event_id: str,
    error: str,
    failed: str | Callable[[TrackedJob], str],
    step: str = "on-failure",
) -> TrackedJob | None:
    """Mark the job failed after its run gave up (`failed`: the status, or a function of the
    locked job that returns it). A failure report about a run that is not the job's current one
    (`run_is_current`, asked under the job's lock, which a rerun holds while it records its
    event), or for a job that already finished, is ignored: the newer outcome wins. Safe to
    call twice: the second call finds the job final."""
    with transaction.atomic():
        job, news = _locked_for_ending(model, job_id, run_id=run_id, event_id=event_id)
        if news:
            job.last_error = truncate_error(error)
            status = failed(job) if callable(failed) else failed
            lifecycle.transition(job, status, step=step, detail=job.last_error)
            job.save(update_fields=[*_ENDING_FIELDS, "last_error"])
        return job


def job_cancelled_in_engine(
    *,
    model: type[TrackedJob],
    job_id: str,
    run_id: str,
    event_id: str,
    step: str = "cancelled-in-inngest",
) -> TrackedJob | None:
    """The engine cancelled run `run_id` without Korai asking (from the Inngest dashboard, its
    REST API, a bulk cancel): the job ends `cancelled`, so its steps write nothing more. Ignored
    for a job that already finished (Korai's own cancel got there first) or that a newer run
    works on; safe to call twice."""
    with transaction.atomic():
        job, news = _locked_for_ending(model, job_id, run_id=run_id, event_id=event_id)
        if news:
            detail = f"run {run_id} was cancelled in Inngest"
            lifecycle.transition(job, lifecycle.CANCELLED, step=step, detail=detail)
            job.save(update_fields=_ENDING_FIELDS)
        return job


# What ending a job writes (with `last_error` for a failure).
_ENDING_FIELDS = ["status", "finished_at", "timeline", "updated_at"]


def _locked_for_ending(
    model: type[TrackedJob], job_id: str, *, run_id: str, event_id: str
) -> tuple[TrackedJob | None, bool]:
    """The job (None: deleted), locked, and whether the end of run `run_id` is news to it:
    not for a job already final, nor for one a newer run works on (the newer outcome wins)."""
    job = model.objects.select_for_update().filter(pk=as_uuid(job_id)).first()
    news = (
        job is not None
        and job.status not in lifecycle.FINAL
        and run_is_current(job, run_id=run_id, event_id=event_id)
    )
    return job, news


@transaction.atomic
def job_rerun(
    job: TrackedJob,
    *,
    record_event: Callable[[TrackedJob], object],
    refused: Callable[[TrackedJob], ConflictError],
    only_if: models.QuerySet | None = None,
) -> TrackedJob:
    """Back to `pending` with a new event (`record_event`, a new event id, so a new Inngest
    run); `refused(job)` is raised when the job's status does not allow it (completed).

    `only_if` is what the caller selected the job by (failed, cancelled, stuck): asked again
    once the row is locked, so of several reruns of one job at once exactly one runs it. The
    others wait for its lock, then find the job `pending` and no longer stuck: ConflictError,
    "a rerun is already under way"."""
    if only_if is None:
        return _job_move(job, lifecycle.PENDING, RERUN_STEP, record_event, refused)

    def still_selected(locked: TrackedJob) -> ConflictError | None:
        if only_if.filter(pk=locked.pk).exists():
            return None
        if lifecycle.PENDING not in lifecycle.ALLOWED[locked.status]:
            return refused(locked)  # finished meanwhile (completed)
        return rerun_under_way(locked)

    return _job_move(job, lifecycle.PENDING, RERUN_STEP, record_event, refused, still_selected)


def rerun_under_way(job: TrackedJob) -> ConflictError:
    """The refusal of a rerun that another one beat to the job (or that its run moved on)."""
    name = f"This {job._meta.verbose_name}"
    if job.status in lifecycle.ACTIVE:
        message = f"{name} is {job.status} again already: a rerun is already under way."
    else:
        message = f"{name} is {job.status} now: it changed since it was selected."
    return ConflictError(message, code="rerun_under_way")


@transaction.atomic
def job_cancel(
    job: TrackedJob,
    *,
    record_event: Callable[[TrackedJob], object],
    refused: Callable[[TrackedJob], ConflictError],
) -> TrackedJob:
    """`cancelled` now, and the event that cancels its Inngest run (`record_event`, sent
    after commit); a step still in flight finds the job cancelled and writes nothing.
    `refused(job)` is raised when the job is already final."""
    return _job_move(job, lifecycle.CANCELLED, CANCEL_STEP, record_event, refused)


def _job_move(job, new: str, step: str, record_event, refused, check=None) -> TrackedJob:
    """Lock, move through the lifecycle, or refuse in the app's words (`check(locked job)`:
    the caller's own refusal, or None); then record the event in the same transaction."""
    job = type(job).objects.select_for_update().get(pk=job.pk)
    if check is not None and (refusal := check(job)) is not None:
        raise refusal
    try:
        lifecycle.transition(job, new, step=step)
    except TransitionRefused:
        raise refused(job) from None
    job.save()
    record_event(job)
    return job


def user_for_event(user_id: object):
    """An event's `userId` (the user's primary key, as a string): the user, or JobError."""
    try:
        pk = int(str(user_id))
    except ValueError:
        raise JobError(f"userId {user_id!r} is not a user id") from None
    user = get_user_model().objects.filter(pk=pk).first()
    if user is None:
        raise JobError(f"user {user_id!r} does not exist")
    return user


def truncate_error(error: str) -> str:
    error = error.strip() or "unknown error"
    if len(error) > ERROR_MAX_CHARS:
        return error[:ERROR_MAX_CHARS] + "…"
    return error


def job_of_run(model: type[TrackedJob], job_id: str, run_id: str) -> TrackedJob:
    """The job, locked, if run `run_id` is still the one working on it; else JobStopped
    (cancelled, run again by a newer run) or JobError (deleted). Called before a step writes
    what it fetched: a step that finishes after a cancel writes nothing."""
    job = lock(model, job_id)
    ensure_run(job, run_id)
    return job


def ensure_run(job: TrackedJob, run_id: str) -> None:
    """JobStopped unless run `run_id` is the one processing the job."""
    name = f"{job._meta.verbose_name} {job.pk}"
    if job.status == lifecycle.CANCELLED:
        raise JobStopped(f"{name} was cancelled; run {run_id} writes nothing")
    if job.status != lifecycle.PROCESSING:
        raise JobStopped(f"{name} is {job.status}; run {run_id} writes nothing")
    if job.inngest_run_id != run_id:
        raise JobStopped(
            f"{name} is worked on by run {job.inngest_run_id} now; run {run_id} writes nothing"
        )


def lock(model: type[models.Model], pk: str) -> models.Model:
    """The row, locked until the end of the transaction; JobError if it does not exist."""
    job = model.objects.select_for_update().filter(pk=as_uuid(pk)).first()
    if job is None:
        raise JobError(f"{model._meta.verbose_name} {pk} does not exist")
    return job


def as_uuid(value: object) -> uuid.UUID:
    try:
        return uuid.UUID(str(value))
    except ValueError:
        raise JobError(f"{value!r} is not a valid id") from None
