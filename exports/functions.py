"""`process-clips`: render an export's clips with the processing API (event `clips/process`, data
`{"exportId", "videoId", "s3Key", "selectedClips", "targetLanguage", "aspectRatio", "userId"}`).

Steps: `create-export-record`, `call-process-clips-api` (the POST of ONE call for every range
still to render), while the service answers `303` `wait-for-process-clips-api-N` (a GET of the
call's result URL each; docs/jobs.md, "Long calls"), `copy-rendered-clips` (each output copied
to a key of the export; tried again, after the sleep `wait-for-storage`, while storage is
down), then `save-exported-clips-to-database`.
The processing API transcribes the whole source video once per request and names its outputs
by position (`{dirname(s3_key)}/clip_{i}.mp4`), so one request per export is both the cheap
way and, with the video's render lease (exports/leases.py), the way no render overwrites
another's output. A clip missing from the answer gets its error and the export ends
`partial`; a rerun renders only the missing ranges."""

import contextlib
import functools
from datetime import timedelta

import inngest
from django.conf import settings

from core.events import PROCESS_CANCELLED_EVENT, VIDEO_DELETED_EVENT
from core.inngest import inngest_client
from exports.models import Export
from exports.rendering import (
    export_copy_rendered,
    export_finish,
    export_leftovers_delete,
    export_render,
    export_render_failed,
)
from exports.services import export_failed_status, export_id_for_event, export_start_for_event
from jobs.calls import call_then_waits
from jobs.endings import job_ending_functions
from jobs.steps import run_step

# The step that calls the processing API (its name is part of the contract).
RENDER_STEP = "call-process-clips-api"
# The step that copies its outputs to the export's keys.
COPY_STEP = "copy-rendered-clips"


@inngest_client.create_function(
    fn_id="process-clips",
    name="Process and Export Viral Clips",
    trigger=inngest.TriggerEvent(event="clips/process"),
    retries=settings.INNGEST_RETRIES,
    # One executing step per video: the processing API writes every render of a video to the
    # same `clip_{i}` keys. Inngest frees a cancelled run's slot while its step still renders,
    # so the video's render lease (exports/leases.py) is what keeps renders apart; this limit
    # spares the waiting. Inngest accepts at most two limits per function: the other one is the
    # overall limit, so the steps pool can be sized for every render in flight
    # (korai/capacity.py); one user's flood is bounded by the export throttle
    # (KORAI_THROTTLE_EXPORT_CREATE).
    concurrency=[
        inngest.Concurrency(key="event.data.videoId", limit=1),
        inngest.Concurrency(limit=settings.INNGEST_CONCURRENCY_GLOBAL),
    ],
    # The export's cancel (POST /api/exports/{id}/cancel/) stops the run it names (a late or
    # repeated cancel never stops a later run of the export); its video's delete stops every
    # run of the video's exports. How the export learns that its run failed or was cancelled:
    # `process_clips_endings` below.
    cancel=[
        inngest.Cancel(event=PROCESS_CANCELLED_EVENT, if_exp="event.id == async.data.runEventId"),
        inngest.Cancel(
            event=VIDEO_DELETED_EVENT, if_exp="event.data.videoId == async.data.videoId"
        ),
    ],
)
def process_clips(ctx: inngest.ContextSync) -> dict:
    data = ctx.event.data

    def create_export_record() -> dict:
        export = export_start_for_event(
            event_id=ctx.event.id or ctx.run_id, data=data, run_id=ctx.run_id, attempt=ctx.attempt
        )
        return {
            "exportId": str(export.id),
            "videoId": str(export.video_id),
            "ranges": [{"start": r["start"], "end": r["end"]} for r in export.selected_ranges],
            "status": export.status,
            "processedClips": export.exported_clips.exclude(s3_key="").count(),
        }

    export = run_step(ctx, "create-export-record", create_export_record)
    if export["status"] in (Export.Status.COMPLETED, Export.Status.CANCELLED):
        # A duplicate event for a finished export, or the late event of a cancelled one.
        return {"videoId": export["videoId"], "processedClips": export["processedClips"]}
    export_id = export["exportId"]

    def call_process_clips_api(step: str = RENDER_STEP, last: bool = False) -> dict:
        return export_render(
            export_id=export_id, run_id=ctx.run_id, step=step, attempt=ctx.attempt, last=last
        )

    def render_gave_up(error: str) -> None:
        export_render_failed(
            export_id=export_id, step=RENDER_STEP, attempt=ctx.attempt, error=error
        )

    def render_step(step: str, last: bool = False) -> dict | None:
        # A refusal, or the last attempt's failure, becomes the error of each clip still
        # missing (`render_gave_up`): the export then finishes `partial` or `failed` below. A
        # failure on the last attempt still fails the step (StepError), so Inngest shows it.
        with contextlib.suppress(inngest.StepError):
            return run_step(
                ctx,
                step,
                functools.partial(call_process_clips_api, step, last),
                job=(Export, export_id),
                gave_up=render_gave_up,
            )
        return None

    # ONE call: its POST, then, while the service answers `303`, one wait on its result URL
    # per step (each at most one redirect interval), so a killed worker or a dropped
    # connection costs one interval, never a second GPU run. The video's render lease is held
    # from before the POST to the last copy, re-entered by each of these steps.
    outcome = call_then_waits(
        render_step, call_step=RENDER_STEP, wait_steps="wait-for-process-clips-api"
    )
    rendered = outcome or {}
    if rendered.get("requested"):
        copy_rendered_clips(ctx, export_id, rendered["outputs"])

    def save_exported_clips_to_database() -> dict:
        saved = export_finish(export_id=export_id, attempt=ctx.attempt)
        return {
            "status": saved.status,
            "error": saved.last_error,
            "processedClips": saved.exported_clips.exclude(s3_key="").count(),
        }

    saved = run_step(ctx, "save-exported-clips-to-database", save_exported_clips_to_database)
    if saved["status"] == Export.Status.FAILED:
        # Nothing was rendered: the run itself failed, so the Inngest dashboard shows it.
        raise inngest.NonRetriableError(saved["error"])
    return {"videoId": export["videoId"], "processedClips": saved["processedClips"]}


def copy_rendered_clips(ctx: inngest.ContextSync, export_id: str, outputs: list) -> None:
    """The copies of the render's outputs to the export's keys, a step of their own: while
    storage is down the step answers when to try again, and the run sleeps that long (15 s,
    30 s, 1 m … 2 h: Inngest's back-off), KORAI_COPY_RETRIES times. The render's step is
    memoized, so these tries never render again; its lease keeps the outputs meanwhile."""
    for tried in range(settings.KORAI_COPY_RETRIES + 1):
        copy = functools.partial(
            export_copy_rendered,
            export_id=export_id,
            run_id=ctx.run_id,
            outputs=outputs,
            tried=tried,
            step=COPY_STEP,
            attempt=ctx.attempt,
        )
        copied = run_step(ctx, COPY_STEP, copy, job=(Export, export_id))
        if "retryIn" not in copied:
            return
        ctx.step.sleep("wait-for-storage", timedelta(seconds=copied["retryIn"]))


# `process-clips-failed` and `process-clips-cancelled`: the export ends failed (or partial) or
# cancelled.
process_clips_endings = job_ending_functions(
    process_clips,
    model=Export,
    failed=export_failed_status,
    id_field="exportId",
    id_for_event=export_id_for_event,
    leftovers=lambda export_id: export_leftovers_delete(export_id=export_id),
)
