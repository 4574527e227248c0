"""`identify-clips`: find a video's clips with the identification API (event
`video/identify.clips`, data `{"videoId", "youtubeUrl", "prompt", "userId"}`).

Each step is one service call and returns small plain JSON, so Inngest can memoize it: a retry
resumes after the last step that succeeded. The identification answer (megabytes with long
transcripts) goes from the API step to the saving step through the database
(`videos.models.IdentifyAnswer`), never through the step state."""

import functools
from datetime import timedelta

import inngest
from django.conf import settings

from core.events import IDENTIFY_CANCELLED_EVENT, VIDEO_DELETED_EVENT
from core.inngest import concurrency_limits, failure_message, inngest_client
from jobs.calls import call_then_waits
from jobs.endings import job_ending_functions
from jobs.steps import run_step
from videos.deletion import video_cleanup_gave_up, video_objects_delete
from videos.models import Video
from videos.services import (
    identify_answers_left_delete,
    video_complete_from_answer,
    video_id_for_event,
    video_identify_call,
    video_start_for_event,
)

# In a cancel rule, `event` is the run's own event and `async` the cancelling one. A cancel
# names the event of the run it is meant for (`runEventId`), so a late or repeated cancel never
# stops a later run of the same video; a deleted video's runs stop whatever their event.
THIS_RUN = "event.id == async.data.runEventId"
SAME_VIDEO = "event.data.videoId == async.data.videoId"


@inngest_client.create_function(
    fn_id="identify-clips",
    name="Identify Viral Clips from YouTube Video",
    trigger=inngest.TriggerEvent(event="video/identify.clips"),
    retries=settings.INNGEST_RETRIES,
    concurrency=concurrency_limits(),
    # The video's cancel (POST /api/videos/{id}/cancel/) or delete stops its run. How the
    # video learns that its run failed or was cancelled: `identify_clips_endings` below.
    cancel=[
        inngest.Cancel(event=IDENTIFY_CANCELLED_EVENT, if_exp=THIS_RUN),
        inngest.Cancel(event=VIDEO_DELETED_EVENT, if_exp=SAME_VIDEO),
        # A video created from the original app's event shape: its run's event has no videoId.
        inngest.Cancel(event=VIDEO_DELETED_EVENT, if_exp=THIS_RUN),
    ],
)
def identify_clips(ctx: inngest.ContextSync) -> dict:
    data = ctx.event.data

    def create_video_record() -> dict:
        video = video_start_for_event(
            event_id=ctx.event.id or ctx.run_id, data=data, run_id=ctx.run_id, attempt=ctx.attempt
        )
        return {
            "videoId": str(video.id),
            "s3Key": video.s3_key,
            "youtubeUrl": video.youtube_url,
            "prompt": video.prompt,
            "status": video.status,
            "totalClips": video.total_clips,
        }

    video = run_step(ctx, "create-video-record", create_video_record)
    if video["status"] in (Video.Status.COMPLETED, Video.Status.CANCELLED):
        # A duplicate event for a finished video, or the late event of a cancelled one: don't
        # pay for identification.
        return {
            "videoId": video["videoId"],
            "s3Key": video["s3Key"],
            "totalClips": video["totalClips"],
        }

    def call_identify_clips_api(last: bool = False) -> dict:
        # One request: the POST, or a wait on its result URL. The answer is kept in the
        # database for the saving step: the step returns counts only.
        return video_identify_call(
            video_id=video["videoId"],
            run_id=ctx.run_id,
            youtube_url=video["youtubeUrl"],
            s3_key=video["s3Key"],
            prompt=video["prompt"],
            last=last,
        )

    # A failed attempt is shown in the admin while Inngest retries. A call still running
    # (`303`) is waited on by further steps, each one request of at most one redirect interval,
    # so a killed worker or a dropped connection costs one interval, never a new GPU run.
    job = (Video, video["videoId"])
    call_then_waits(
        lambda step, last: run_step(
            ctx, step, functools.partial(call_identify_clips_api, last=last), job=job
        ),
        call_step="call-identify-clips-api",
        wait_steps="wait-for-identify-clips-api",
    )

    def save_clips_to_database() -> int:
        saved = video_complete_from_answer(video_id=video["videoId"], attempt=ctx.attempt)
        return saved.total_clips

    total_clips = run_step(ctx, "save-clips-to-database", save_clips_to_database)
    return {"videoId": video["videoId"], "s3Key": video["s3Key"], "totalClips": total_clips}


# `identify-clips-failed` and `identify-clips-cancelled`: the video ends failed or cancelled.
identify_clips_endings = job_ending_functions(
    identify_clips,
    model=Video,
    failed=Video.Status.FAILED,
    id_field="videoId",
    id_for_event=video_id_for_event,
    leftovers=lambda video_id: identify_answers_left_delete(video_id=video_id),
)


def _delete_video_objects_failed(ctx: inngest.ContextSync) -> None:
    """Retries are exhausted: the clean-up stays pending in the admin, with the error."""
    original = ctx.event.data.get("event") or {}
    video_cleanup_gave_up(
        video_id=str((original.get("data") or {}).get("videoId") or ""),
        error=failure_message(ctx.event.data.get("error")),
    )


@inngest_client.create_function(
    fn_id="delete-video-objects",
    name="Delete a deleted video's stored objects",
    trigger=inngest.TriggerEvent(event=VIDEO_DELETED_EVENT),
    # Storage outages can last: Inngest's back-off spreads these retries over hours.
    retries=settings.KORAI_CLEANUP_RETRIES,
    # Bounded like every function, so the steps pool can hold them all (korai/capacity.py).
    concurrency=[inngest.Concurrency(limit=settings.INNGEST_CONCURRENCY_GLOBAL)],
    on_failure=_delete_video_objects_failed,
)
def delete_video_objects(ctx: inngest.ContextSync) -> dict:
    """Empty the storage folders of a deleted video (`videos.deletion`), then sweep again once
    any call still in flight when it was deleted has ended."""
    video_id = str(ctx.event.data.get("videoId") or "")

    first = run_step(
        ctx, "delete-objects", lambda: video_objects_delete(video_id=video_id, final=False)
    )
    ctx.step.sleep(
        "wait-for-calls-in-flight", timedelta(seconds=settings.KORAI_CLEANUP_SWEEP_DELAY_SECONDS)
    )
    late = run_step(
        ctx, "delete-late-objects", lambda: video_objects_delete(video_id=video_id, final=True)
    )
    return {"videoId": video_id, "deletedObjects": first + late}
