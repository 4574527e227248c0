"""What an Inngest function run shows from outside: log context and step metrics.

`ObservabilityMiddleware` is registered on the Inngest client, so every function (and its
on_failure handler) gets it without a line in the function's code. For each request from
Inngest it binds `function`, `run_id`, `attempt`, `event_id` and `job_id` to the log context
(structlog contextvars: every line written while the request is served carries them), and
hands the function a `ctx.step` whose `run` binds `step` while the step's code runs, times it
(`korai_step_duration_seconds`) and logs `step_finished`, `step_failed` or `step_stopped` (its
job cancelled: `RunStopped`, which ends the run quietly). Memoized steps that
Inngest replays run no code, so they are neither timed nor logged again."""

from __future__ import annotations

import time
from collections.abc import Mapping

import inngest
import structlog

from core.metrics import STEP_DURATION, step_label

logger = structlog.stdlib.get_logger("korai.jobs")

_FAILURE_EVENT = "inngest/function.failed"


class RunStopped(inngest.NonRetriableError):
    """Raised by a step whose job is no longer its run's (cancelled, or taken over by a newer
    run): an outcome, not a failure. The step is logged at info level, and the run ends there
    as finished, writing nothing: no failure is logged, answered or handled."""


def job_id_of(data: object) -> str | None:
    """The job an event (or a step's result) is about: the export if it names one (an export's
    events carry its video's id too), else the video."""
    if not isinstance(data, Mapping):
        return None
    job_id = data.get("exportId") or data.get("videoId")
    return str(job_id) if job_id else None


class ObservedSteps:
    """`ctx.step`, with `run` observed; everything else is the SDK's own."""

    def __init__(self, step, *, function: str) -> None:
        self._step = step
        self._function = function

    def __getattr__(self, name: str):
        return getattr(self._step, name)

    def run(self, step_id: str, handler, *handler_args, **kwargs):
        def observed(*args):
            with structlog.contextvars.bound_contextvars(step=step_id):
                started = time.perf_counter()
                try:
                    result = handler(*args)
                except RunStopped as stopped:
                    logger.info("step_stopped", reason=str(stopped))
                    raise
                except Exception as err:
                    elapsed = time.perf_counter() - started
                    STEP_DURATION.labels(self._function, step_label(step_id), "error").observe(
                        elapsed
                    )
                    logger.warning(
                        "step_failed",
                        duration_seconds=round(elapsed, 3),
                        error=str(err)[:500],
                        error_type=type(err).__name__,
                    )
                    raise
                elapsed = time.perf_counter() - started
                STEP_DURATION.labels(self._function, step_label(step_id), "ok").observe(elapsed)
                logger.info("step_finished", duration_seconds=round(elapsed, 3))
            # An event in the original Next.js app's shape names no job: the first step creates
            # it and says which.
            if "job_id" not in structlog.contextvars.get_contextvars():
                job_id = job_id_of(result)
                if job_id:
                    structlog.contextvars.bind_contextvars(job_id=job_id)
            return result

        return self._step.run(step_id, observed, *handler_args, **kwargs)


class ObservabilityMiddleware(inngest.MiddlewareSync):
    def transform_input(self, ctx, function, steps) -> None:
        event = ctx.event
        failure = event.name == _FAILURE_EVENT
        if failure:
            # on_failure runs with `inngest/function.failed`, whose data holds the run's event.
            original = event.data.get("event") or {}
            data, event_id = original.get("data") or {}, original.get("id")
        else:
            data, event_id = event.data, event.id
        context = {
            "function": function.local_id + ("-failure" if failure else ""),
            "run_id": ctx.run_id,
            "attempt": ctx.attempt,
            "event_id": event_id or None,
        }
        if job_id := job_id_of(data):
            context["job_id"] = job_id
        if failure:
            context["failed_run_id"] = event.data.get("run_id")
        structlog.contextvars.bind_contextvars(**context)
        ctx.step = ObservedSteps(ctx.step, function=function.local_id)

    def transform_output(self, result) -> None:
        if result.step is not None:
            return  # a step's outcome: ObservedSteps logged it
        if isinstance(result.error, RunStopped):
            result.error, result.output = None, None  # the step said why: nothing to fail
        elif result.error is not None:
            logger.warning(
                "function_failed",
                error=str(result.error)[:500],
                error_type=type(result.error).__name__,
            )
        elif result.has_output():
            logger.info("function_finished")
