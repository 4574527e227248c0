"""A job's clips API call in flight: the result URL of a call the service answered `303`.

The real service (Modal web endpoints) answers a call still running after one redirect interval
(CLIPS_API_REDIRECT_INTERVAL_SECONDS, 150 s) with `303` to a result URL; a GET of that URL waits
one interval more and answers the result or `303` again. Reloading it never starts a new run; a
new POST does, and pays for one. So the URL is written on the job's row the moment the `303`
arrives, in a transaction of its own (an UPDATE in autocommit), before anything else: whatever
cuts the step afterwards (a killed worker, a deploy, a dropped connection), its retry and the
run's next steps find it there and wait on the same call.

The URL belongs to the run that posted the call (`pending_call_run_id`): another run of the job
(a rerun asks for something else) never resumes it. It is forgotten when the result arrives and
when the job ends (`pending_call_forget_on_end`, a receiver of `status_changed`)."""

from collections.abc import Callable

from django.conf import settings
from django.utils import timezone

from integrations import clips_api
from jobs.lifecycle import FINAL
from jobs.models import TrackedJob
from jobs.records import as_uuid


def call_then_waits(
    step: Callable[[str, bool], dict | None], *, call_step: str, wait_steps: str
) -> dict | None:
    """The steps of one clips API call: `step(call_step, last=False)` (the POST), then, while
    its outcome is `{"waiting": True}`, `step("<wait_steps>-N", last)` for N = 1, 2, …, up to
    `clips_api.waits_allowed()`, the last one with `last=True`. Returns the last outcome."""
    outcome = step(call_step, False)
    waits = clips_api.waits_allowed()
    for wait in range(1, waits + 1):
        if not (outcome or {}).get("waiting"):
            break
        outcome = step(f"{wait_steps}-{wait}", wait == waits)
    return outcome


def call_resumed(
    model: type[TrackedJob],
    job_id: str,
    run_id: str,
    request: Callable[..., object],
    *,
    api: str,
    last: bool,
) -> object:
    """One request of run `run_id`'s call to the clips API `api`: `request(result_url=...)`
    POSTs, or, with the result URL the service gave this run, GETs it. Returns the answer, or
    `clips_api.StillRunning` once its URL is kept; on the `last` wait a call still running is
    given up (ClipsApiNoResult), never posted again."""
    result = request(result_url=pending_call(model, job_id, run_id))
    if isinstance(result, clips_api.StillRunning):
        pending_call_keep(model, job_id, run_id, result.result_url)
        if last:
            raise clips_api.ClipsApiNoResult(
                f"{api} API had no result after {clips_api.waits_allowed()} waits of "
                f"{settings.CLIPS_API_REDIRECT_INTERVAL_SECONDS:g} s: given up, not posted again"
            )
    return result


def pending_call(model: type[TrackedJob], job_id: str, run_id: str) -> str:
    """The result URL of run `run_id`'s call in flight for the job, or "" (none)."""
    url = (
        model.objects.filter(pk=as_uuid(job_id), pending_call_run_id=run_id)
        .values_list("pending_call_url", flat=True)
        .first()
    )
    return url or ""


def pending_call_keep(model: type[TrackedJob], job_id: str, run_id: str, url: str) -> None:
    """Remember `url` as run `run_id`'s call in flight, committed at once (never inside the
    step's other writes: the caller holds no transaction). A job gone, or worked on by another
    run meanwhile, keeps nothing: that run's answer would not be kept either."""
    model.objects.filter(pk=as_uuid(job_id), inngest_run_id=run_id).update(
        pending_call_url=url, pending_call_run_id=run_id, updated_at=timezone.now()
    )


def pending_call_forget(model: type[TrackedJob], job_id: str) -> None:
    """The call's result arrived (or the job ended): nothing is in flight any more."""
    model.objects.filter(pk=as_uuid(job_id)).exclude(pending_call_url="").update(
        pending_call_url="", pending_call_run_id=""
    )


def pending_call_forget_on_end(sender, *, job, new: str, **kwargs) -> None:
    """Receiver of `jobs.lifecycle.status_changed`: a job that ended waits on no call. The
    instance is cleared too, so the caller's save of it does not write the URL back."""
    if new in FINAL:
        job.pending_call_url = job.pending_call_run_id = ""
        pending_call_forget(sender, str(job.pk))
