"""The edge between Korai's failures and Inngest's: the job functions run each step through
`run_step`, the one place that knows the SDK's errors.

- `JobStopped` (the job was cancelled, or a newer run took it over) becomes
  `core.observability.RunStopped`: the run ends there, logged at info level, not as a failure;
- `JobError` (the job cannot run: gone, bad event), `ClipsApiRefused` and `ClipsApiMalformed`
  become `inngest.NonRetriableError`, prefixed with the step's name: retrying cannot help;
- `ClipsApiRetryAfter` becomes `inngest.RetryAfterError` with the API's delay, and so does
  `JobWaiting` (another job holds what this one needs), which is not recorded as a failure;
- anything else (`ClipsApiUnavailable`, a storage or database outage) is raised as it is, so
  Inngest retries the step with back-off; once its retries ran out, the run fails with a
  `NonRetriableError` in the same words as a permanent failure: "<step>: <message>".

Given the job, a failed attempt is recorded on it (`jobs.records.job_step_failed`), so the admin
shows the error while Inngest retries."""

from collections.abc import Callable
from typing import TypeVar

import inngest
from django.conf import settings

from core.observability import RunStopped
from integrations.clips_api import ClipsApiMalformed, ClipsApiRefused, ClipsApiRetryAfter
from jobs.models import TrackedJob
from jobs.records import JobError, JobStopped, JobWaiting, job_step_failed

T = TypeVar("T")

_PERMANENT = (JobError, ClipsApiRefused, ClipsApiMalformed)


def run_step(
    ctx: inngest.ContextSync,
    step_id: str,
    body: Callable[[], T],
    *,
    job: tuple[type[TrackedJob], str] | None = None,
    gave_up: Callable[[str], object] | None = None,
    retries: int | None = None,
) -> T | dict:
    """Run `body` as the step `step_id`, its failures translated for Inngest.

    `gave_up(error)`, when given, is called once the step's failure is final (a permanent one,
    or any failure on the last attempt; a JobError excepted) instead of recording the attempt.
    The last attempt is the one the request's `max_attempts` names; a request without it falls
    back to `retries`, the function's configured retries (default INNGEST_RETRIES).
    The step then returns `{"error": error}` rather than ending the run, so the function's
    next steps can finish the job with it. A retriable failure on the last attempt is still
    raised, so Inngest marks the step failed: the function sees an `inngest.StepError`."""

    def guarded() -> T | dict:
        try:
            return body()
        except Exception as err:
            permanent = isinstance(err, _PERMANENT)
            last_attempt = is_last_attempt(ctx, retries=retries)
            if isinstance(err, JobError):
                pass  # the job is gone or cannot run: nothing to record the failure on
            elif gave_up is not None and (permanent or last_attempt):
                gave_up(str(err))
                # The SDK raises these two at the function level, not as the step's failure:
                # the run would end before the function could finish the job with the error.
                if permanent or isinstance(err, ClipsApiRetryAfter | JobWaiting):
                    return {"error": str(err)}
            elif job is not None and not isinstance(err, JobWaiting):
                model, job_id = job
                job_step_failed(
                    model=model, job_id=job_id, step=step_id, attempt=ctx.attempt, error=str(err)
                )
            if (translated := for_inngest(step_id, err)) is not None:
                raise translated from err
            raise

    try:
        return ctx.step.run(step_id, guarded)
    except inngest.StepError as err:
        if gave_up is not None:
            raise  # the function finishes the job with the error itself
        # Retries ran out: the run fails in the words of a permanent failure ("<step>:
        # <message>", `for_inngest`), not with the exception's class name before the message.
        raise inngest.NonRetriableError(f"{step_id}: {err.message}") from err


def is_last_attempt(ctx: inngest.ContextSync, *, retries: int | None = None) -> bool:
    """Is this the step's last attempt? Inngest says so in the request (`ctx.max_attempts`: the
    retries it registered, which it caps at 20, plus one): the setting may have changed since
    the sync. The SDK (0.5) parses it but keeps it only where its own steps read it."""
    max_attempts = ctx.step._execution._request.ctx.max_attempts
    if max_attempts is None:
        max_attempts = (settings.INNGEST_RETRIES if retries is None else retries) + 1
    # `ctx.attempt` counts from 0.
    return ctx.attempt + 1 >= max_attempts


def for_inngest(step_id: str, err: Exception) -> Exception | None:
    """Inngest's error for `err`, raised in step `step_id`; None: `err` itself, retried."""
    if isinstance(err, JobStopped):
        return RunStopped(str(err))
    if isinstance(err, _PERMANENT):
        return inngest.NonRetriableError(f"{step_id}: {err}")
    if isinstance(err, ClipsApiRetryAfter | JobWaiting):
        # A delay, not a time: the SDK compares times with naive local time.
        return inngest.RetryAfterError(str(err), err.delay)
    return None
