"""How a job learns that its run ended in Inngest without finishing it: two functions per job
function, on the events the engine emits.

- `<fn>-failed`, on `inngest/function.failed`: the run's retries are exhausted (or its failure
  was permanent), so the job ends failed. It replaces the SDK's `on_failure`, which Inngest
  registers with no retries: one database blip while recording the failure would leave the job
  `processing` for good. This one is retried like any function, and recording is idempotent.
- `<fn>-cancelled`, on `inngest/function.cancelled`: the run was cancelled, by Korai's own
  cancel event (the job is already `cancelled`: nothing to do) or from outside Korai (the
  Inngest dashboard, its REST API, a bulk cancel), which never calls a failure handler. The job
  ends `cancelled`, so its steps write nothing more.

Both ignore news of a run that is no longer the job's current one
(`jobs.records.run_is_current`)."""

from collections.abc import Callable

import inngest
from django.conf import settings

from core.inngest import FailedRun, failed_run, inngest_client
from jobs.models import TrackedJob
from jobs.records import job_cancelled_in_engine, job_fail

FUNCTION_FAILED_EVENT = "inngest/function.failed"
FUNCTION_CANCELLED_EVENT = "inngest/function.cancelled"
# Runs at once of each `-failed`/`-cancelled` function.
ENDINGS_CONCURRENCY = 2


def job_ending_functions(
    function: inngest.Function,
    *,
    model: type[TrackedJob],
    failed: str | Callable[[TrackedJob], str],
    id_field: str,
    id_for_event: Callable[[str], object],
    leftovers: Callable[[str], object] | None = None,
) -> list[inngest.Function]:
    """The `-failed` and `-cancelled` functions of the job function `function`, whose runs
    work on `model` rows: the job's id is the run's event's `id_field`, or for the original
    app's event shape `id_for_event(event id)`. `failed`: the status a failure ends in, or a
    function of the locked job that returns it. `leftovers(job id)`, when given, deletes what
    the ended run left that no row points at (the step `delete-leftovers`, after the job is
    settled; retried like any step while storage is down)."""
    # The engine names the function by its fully qualified id (`korai-app-identify-clips`).
    of_this_function = f"event.data.function_id == '{function.id}'"

    def record_failure(run: FailedRun) -> TrackedJob | None:
        return job_fail(
            model=model,
            job_id=run.job_id,
            run_id=run.run_id,
            event_id=run.event_id,
            error=run.error,
            failed=failed,
        )

    def record_cancel(run: FailedRun) -> TrackedJob | None:
        return job_cancelled_in_engine(
            model=model, job_id=run.job_id, run_id=run.run_id, event_id=run.event_id
        )

    def ending(kind: str, event: str, step: str, record) -> inngest.Function:
        @inngest_client.create_function(
            fn_id=f"{function.local_id}-{kind}",
            name=f"{function.name}: record a {kind} run",
            trigger=inngest.TriggerEvent(event=event, expression=of_this_function),
            # Each run is one short database write; a small limit keeps a burst of endings
            # from taking the steps pool's threads (counted in its capacity: korai/capacity.py).
            concurrency=[inngest.Concurrency(limit=ENDINGS_CONCURRENCY)],
            retries=settings.INNGEST_RETRIES,
        )
        def record_ended_run(ctx: inngest.ContextSync) -> None:
            run = failed_run(ctx, id_field=id_field, id_for_event=id_for_event)
            ctx.step.run(step, lambda: _status_of(record(run)))
            if leftovers is not None and run.job_id:
                ctx.step.run("delete-leftovers", lambda: leftovers(str(run.job_id)))

        return record_ended_run

    return [
        ending("failed", FUNCTION_FAILED_EVENT, "mark-job-failed", record_failure),
        ending("cancelled", FUNCTION_CANCELLED_EVENT, "mark-job-cancelled", record_cancel),
    ]


def _status_of(job: TrackedJob | None) -> str:
    """What the step returns (plain JSON for Inngest's step state): the job's status now."""
    return job.status if job is not None else "deleted"
