"""The edge between Korai's failures and Inngest's: the job functions run each step through
`run_step`, the one place that knows the SDK's errors.

- `JobError` (the job cannot run: gone, bad event), `ClipsApiRefused` and `ClipsApiMalformed`
  become `inngest.NonRetriableError`, prefixed with the step's name: retrying cannot help;
- `ClipsApiRetryAfter` becomes `inngest.RetryAfterError` with the API's delay;
- anything else (`ClipsApiUnavailable`, a storage or database outage) is raised as it is, so
  Inngest retries the step with back-off; once its retries ran out, the run fails with a
  `NonRetriableError` in the same words as a permanent failure: "<step>: <message>".

Given the job, a failed attempt is recorded on it (`jobs.records.job_step_failed`), so the admin
shows the error while Inngest retries."""

from collections.abc import Callable
from typing import TypeVar

import inngest
from django.conf import settings

from core.inngest import failed_run
from integrations.clips_api import ClipsApiMalformed, ClipsApiRefused, ClipsApiRetryAfter
from jobs.models import TrackedJob
from jobs.records import JobError, job_fail, job_step_failed

T = TypeVar("T")

_PERMANENT = (JobError, ClipsApiRefused, ClipsApiMalformed)


def run_step(
    ctx: inngest.ContextSync,
    step_id: str,
    body: Callable[[], T],
    *,
    job: tuple[type[TrackedJob], str] | None = None,
    gave_up: Callable[[str], object] | None = None,
) -> T | dict:
    """Run `body` as the step `step_id`, its failures translated for Inngest.

    `gave_up(error)`, when given, is called once the step's failure is final (a permanent one,
    or any failure on the last attempt; a JobError excepted) instead of recording the attempt.
    The step then returns `{"error": error}` rather than ending the run, so the function's
    next steps can finish the job with it. A retriable failure on the last attempt is still
    raised, so Inngest marks the step failed: the function sees an `inngest.StepError`."""

    def guarded() -> T | dict:
        try:
            return body()
        except Exception as err:
            permanent = isinstance(err, _PERMANENT)
            # `ctx.attempt` counts from 0: INNGEST_RETRIES retries follow the first attempt.
            last_attempt = ctx.attempt >= settings.INNGEST_RETRIES
            if isinstance(err, JobError):
                pass  # the job is gone or cannot run: nothing to record the failure on
            elif gave_up is not None and (permanent or last_attempt):
                gave_up(str(err))
                # The SDK raises these two at the function level, not as the step's failure:
                # the run would end before the function could finish the job with the error.
                if permanent or isinstance(err, ClipsApiRetryAfter):
                    return {"error": str(err)}
            elif job is not None:
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


def for_inngest(step_id: str, err: Exception) -> Exception | None:
    """Inngest's error for `err`, raised in step `step_id`; None: `err` itself, retried."""
    if isinstance(err, _PERMANENT):
        return inngest.NonRetriableError(f"{step_id}: {err}")
    if isinstance(err, ClipsApiRetryAfter):
        # A delay, not a time: the SDK compares times with naive local time.
        return inngest.RetryAfterError(str(err), err.delay)
    return None


def failure_handler(
    *,
    model: type[TrackedJob],
    failed: str | Callable[[TrackedJob], str],
    id_field: str,
    id_for_event: Callable[[str], object],
) -> Callable[[inngest.ContextSync], None]:
    """A function's `on_failure`: its retries are exhausted (or the failure was permanent), so
    the job of the failed run ends `failed` (`failed`: the status, or a function of the job
    that returns it), unless a newer run took over (`jobs.records.job_fail`)."""

    def on_failure(ctx: inngest.ContextSync) -> None:
        run = failed_run(ctx, id_field=id_field, id_for_event=id_for_event)
        job_fail(
            model=model,
            job_id=run.job_id,
            run_id=run.run_id,
            event_id=run.event_id,
            error=run.error,
            failed=failed,
        )

    return on_failure
