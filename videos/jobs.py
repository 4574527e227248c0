"""Step-side services of a video's identification (the `identify-clips` function): start it,
complete it with the identified clips, fail it.

Each is safe to run twice: Inngest may deliver a step again after its writes committed."""

import uuid

from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.db import transaction

from clips.services import clips_replace
from integrations.identify_answer import dropped_summary
from jobs import lifecycle
from jobs.records import (
    JobError,
    JobStopped,
    as_uuid,
    job_begin_run,
    job_fail,
    job_note,
    job_of_run,
    lock,
    user_pk,
)
from outbox.selectors import event_superseded
from videos.models import IdentifyAnswer, Video
from videos.youtube import canonical_youtube_url, youtube_video_id

# Fixed namespace: the video created for a seed-shaped event (no videoId) gets the same id every
# time the event is delivered, so a second delivery finds it instead of creating a twin.
_EVENT_VIDEO_NAMESPACE = uuid.UUID("7d6f4c1e-2b8a-4f0e-9a51-3c2d8e9b6a10")


def video_id_for_event(event_id: str) -> uuid.UUID:
    return uuid.uuid5(_EVENT_VIDEO_NAMESPACE, f"video/identify.clips:{event_id}")


@transaction.atomic
def video_start(*, video_id: str, run_id: str, attempt: int) -> Video:
    """Mark the video `processing` by run `run_id`. A video that is already `completed` or
    `cancelled` is left as it is (a duplicate event, or the event of a job cancelled before its
    run started): the caller returns at once, without calling the API."""
    video = lock(Video, video_id)
    if video.status in (Video.Status.COMPLETED, Video.Status.CANCELLED):
        return video
    job_begin_run(video, run_id=run_id, step="create-video-record", attempt=attempt)
    video.save()
    return video


@transaction.atomic
def video_create_for_event(
    *, event_id: str, owner_id: str, youtube_url: str, prompt: str, run_id: str, attempt: int
) -> Video:
    """The seed's event shape carries no videoId: create the video (id derived from the event
    id), or find the one an earlier delivery created, and start it."""
    video_id = video_id_for_event(event_id)
    if not Video.objects.filter(pk=video_id).exists():
        owner = get_user_model().objects.filter(pk=user_pk(owner_id)).first()
        if owner is None:
            raise JobError(f"user {owner_id!r} does not exist")
        try:
            youtube_id = youtube_video_id(youtube_url)
        except ValidationError as err:
            raise JobError(f"youtubeUrl {youtube_url!r}: {' '.join(err.messages)}") from None
        Video.objects.get_or_create(
            pk=video_id,
            defaults={
                "owner": owner,
                "youtube_url": canonical_youtube_url(youtube_id),
                "youtube_id": youtube_id,
                "prompt": prompt or "",
                "s3_key": Video.s3_key_for(video_id),
            },
        )
    return video_start(video_id=str(video_id), run_id=run_id, attempt=attempt)


def identify_answer_store(*, video_id: str, run_id: str, answer: dict) -> dict:
    """Keep an identification answer (`read_identify_answer`'s dict, integrations) for
    the step that saves its clips, and return what the fetching step hands on: counts only, so
    the function's step state stays a few hundred bytes whatever the answer's size. An answer
    that arrives after the video was cancelled (or deleted) is not kept: JobStopped/JobError."""
    with transaction.atomic():
        job_of_run(Video, video_id, run_id)
        IdentifyAnswer.objects.update_or_create(
            video_id=as_uuid(video_id), defaults={"inngest_run_id": run_id, "answer": answer}
        )
    return {"clips": len(answer["identified_clips"]), "dropped": len(answer["dropped"])}


@transaction.atomic
def video_complete_from_answer(*, video_id: str, attempt: int) -> Video:
    """`video_complete` with the answer `identify_answer_store` kept, which is then forgotten.
    A second delivery of the step finds the video completed and the answer gone: nothing to do.
    A video cancelled since, or taken over by a newer run, is left alone (JobStopped)."""
    video = lock(Video, video_id)
    kept = IdentifyAnswer.objects.filter(video=video).first()
    if kept is None:
        if video.status == Video.Status.COMPLETED:
            return video
        raise JobError(f"video {video_id} has no identification answer to save")
    if video.status != Video.Status.PROCESSING or video.inngest_run_id != kept.inngest_run_id:
        raise JobStopped(f"video {video_id} is {video.status}: its answer is not saved")
    video = video_complete(video_id=video_id, identified=kept.answer, attempt=attempt)
    kept.delete()
    return video


@transaction.atomic
def video_complete(*, video_id: str, identified: dict, attempt: int) -> Video:
    """Store an identification answer (`read_identify_answer`'s dict, integrations): the
    video's metadata and exactly its clips, then mark the video `completed`. The clips the
    reader dropped are named on the video's timeline. Safe to run twice."""
    video = lock(Video, video_id)
    clips = identified["identified_clips"]
    clips_replace(video=video, clips=clips)
    # The clips kept: the service's own count includes the broken clips it sent.
    video.total_clips = len(clips)
    video.duration_seconds = identified["video_duration"] or None  # 0: unknown
    video.detected_language = identified["detected_language"]
    video.s3_path = identified["s3_path"]
    video.last_error = ""
    if dropped := identified.get("dropped"):
        job_note(
            video,
            step="save-clips-to-database",
            attempt=attempt,
            detail=f"dropped {len(dropped)} of the answer's {len(clips) + len(dropped)} clips: "
            + dropped_summary(dropped),
        )
    if video.status != Video.Status.COMPLETED:  # else a second delivery of the step
        lifecycle.transition(
            video,
            Video.Status.COMPLETED,
            step="save-clips-to-database",
            attempt=attempt,
            detail=f"{len(clips)} clips",
        )
    video.save()
    return video


def video_fail(*, video_id: str, run_id: str, event_id: str, error: str) -> Video | None:
    """`failed` with the error and finish time, unless a newer run or a rerun's event (see
    `jobs.records.job_fail`) took over, or it completed."""
    return job_fail(
        model=Video,
        job_id=video_id,
        run_id=run_id,
        superseded=lambda: bool(event_id) and event_superseded(event_id=event_id),
        error=error,
        failed=Video.Status.FAILED,
    )
