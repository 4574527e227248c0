"""`process-clips`: render an export's clips with the processing API (event `clips/process`, data
`{"exportId", "videoId", "s3Key", "selectedClips", "targetLanguage", "aspectRatio", "userId"}`).

One step per clip, so a clip that fails for good is recorded with its error while the others go
on, and a retry never renders again a clip whose step already succeeded."""

import inngest
from django.conf import settings

from core.inngest import concurrency_limits, failed_run, inngest_client
from core.jobs import JobError
from exports.jobs import (
    export_clip_process,
    export_clip_range,
    export_create_for_event,
    export_fail,
    export_id_for_event,
    export_start,
    export_step_failed,
    exported_clips_save,
)
from exports.models import Export


def _process_clips_failed(ctx: inngest.ContextSync) -> None:
    """Retries are exhausted (or the failure was permanent): the export is `failed`, or
    `partial` if clips were rendered before the failure (they stay stored)."""
    failed = failed_run(ctx, id_field="exportId", id_for_event=export_id_for_event)
    export_fail(
        export_id=failed.job_id,
        run_id=failed.run_id,
        event_id=failed.event_id,
        error=failed.error,
    )


@inngest_client.create_function(
    fn_id="process-clips",
    name="Process and Export Viral Clips",
    trigger=inngest.TriggerEvent(event="clips/process"),
    retries=settings.INNGEST_RETRIES,
    concurrency=concurrency_limits(),
    on_failure=_process_clips_failed,
)
def process_clips(ctx: inngest.ContextSync) -> dict:
    data = ctx.event.data

    def create_export_record() -> dict:
        try:
            if data.get("exportId"):
                export = export_start(
                    export_id=str(data["exportId"]), run_id=ctx.run_id, attempt=ctx.attempt
                )
            else:
                export = export_create_for_event(
                    event_id=ctx.event.id or ctx.run_id,
                    owner_id=str(data.get("userId") or ""),
                    video_id=str(data.get("videoId") or ""),
                    selected_clips=data.get("selectedClips"),
                    aspect_ratio=data.get("aspectRatio"),
                    target_language=data.get("targetLanguage"),
                    run_id=ctx.run_id,
                    attempt=ctx.attempt,
                )
        except JobError as err:
            raise inngest.NonRetriableError(f"create-export-record: {err}") from err
        return {
            "exportId": str(export.id),
            "videoId": str(export.video_id),
            "ranges": [{"start": r["start"], "end": r["end"]} for r in export.selected_ranges],
            "completed": export.status == Export.Status.COMPLETED,
            "processedClips": export.exported_clips.exclude(s3_key="").count(),
        }

    export = ctx.step.run("create-export-record", create_export_record)
    if export["completed"]:
        # A duplicate or late event for a finished export: nothing left to render.
        return {"videoId": export["videoId"], "processedClips": export["processedClips"]}

    results = []
    for index, selected in enumerate(export["ranges"]):
        step_id = f"process-clip-{index + 1}"

        def process_clip(index: int = index, step_id: str = step_id) -> dict:
            return _process_one(
                export_id=export["exportId"], index=index, step_id=step_id, attempt=ctx.attempt
            )

        try:
            results.append(ctx.step.run(step_id, process_clip))
        except inngest.StepError as err:
            # The step failed on every attempt: this clip fails, the others go on.
            results.append({**selected, "error": err.message})

    def save_exported_clips_to_database() -> dict:
        try:
            saved = exported_clips_save(
                export_id=export["exportId"], results=results, attempt=ctx.attempt
            )
        except JobError as err:
            # The export was deleted meanwhile, or a result is not one of its ranges.
            raise inngest.NonRetriableError(f"save-exported-clips-to-database: {err}") from err
        return {"status": saved.status, "error": saved.last_error}

    saved = ctx.step.run("save-exported-clips-to-database", save_exported_clips_to_database)
    if saved["status"] == Export.Status.FAILED:
        # Nothing was rendered: the run itself failed, so the Inngest dashboard shows it.
        raise inngest.NonRetriableError(saved["error"])
    processed = sum(1 for r in results if r.get("s3_key"))
    return {"videoId": export["videoId"], "processedClips": processed}


def _process_one(*, export_id: str, index: int, step_id: str, attempt: int) -> dict:
    """Render one clip. A permanent refusal (4xx, malformed answer) becomes this clip's error
    instead of ending the run; a Retry-After pauses the run, except on the step's last attempt,
    where it too becomes this clip's error; anything else is recorded and raised for Inngest to
    retry the step."""
    try:
        return export_clip_process(export_id=export_id, index=index, step=step_id, attempt=attempt)
    except JobError as err:
        raise inngest.NonRetriableError(f"{step_id}: {err}") from err
    except inngest.RetryAfterError as err:
        # The SDK raises a RetryAfterError at the function level, not as a StepError: on the
        # last attempt (`ctx.attempt` counts from 0, INNGEST_RETRIES retries follow the first)
        # it would fail the whole run and leave the later clips untried.
        if attempt < settings.INNGEST_RETRIES:
            raise
        export_step_failed(export_id=export_id, step=step_id, attempt=attempt, error=str(err))
        start, end = export_clip_range(export_id=export_id, index=index)
        return {"start": start, "end": end, "error": str(err)}
    except inngest.NonRetriableError as err:
        export_step_failed(export_id=export_id, step=step_id, attempt=attempt, error=str(err))
        start, end = export_clip_range(export_id=export_id, index=index)
        return {"start": start, "end": end, "error": str(err)}
    except Exception as err:
        export_step_failed(export_id=export_id, step=step_id, attempt=attempt, error=str(err))
        raise
