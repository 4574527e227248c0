"""Writes for videos: what the API and the operators start (submit, run again, cancel) and what
the steps of the `identify-clips` function call (start, keep the answer, complete, fail).

Each step-side service is safe to run twice: Inngest may deliver a step again after its writes
committed."""

import functools
import uuid

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Exists, OuterRef, QuerySet

from clips.services import clips_replace
from core.events import IDENTIFY_CANCELLED_EVENT, IDENTIFY_EVENT
from core.exceptions import ConflictError
from integrations import clips_api
from integrations.identify_answer import dropped_summary
from jobs import lifecycle
from jobs.calls import call_resumed, pending_call_forget
from jobs.records import (
    JobError,
    JobStopped,
    as_uuid,
    job_cancel,
    job_note,
    job_of_run,
    job_rerun,
    job_start,
    job_triggered,
    lock,
    user_for_event,
)
from jobs.reruns import JobKind
from outbox.services import event_record
from videos.models import IdentifyAnswer, Video
from videos.selectors import videos_stuck
from videos.youtube import normalize_youtube_url

IDEMPOTENCY_KEY_MAX_LENGTH = 255

# Fixed namespace: the video created for an event in the original Next.js app's shape (no
# videoId) gets the same id every time the event is delivered, so a second delivery finds it
# instead of creating a twin.
_EVENT_VIDEO_NAMESPACE = uuid.UUID("7d6f4c1e-2b8a-4f0e-9a51-3c2d8e9b6a10")


def video_id_for_event(event_id: str) -> uuid.UUID:
    return uuid.uuid5(_EVENT_VIDEO_NAMESPACE, f"video/identify.clips:{event_id}")


def video_submit(
    *, owner, youtube_url: str, prompt: str = "", idempotency_key: str = "", from_event: str = ""
) -> Video:
    """Record a video and its `video/identify.clips` event in one transaction; the event is sent
    after commit. With an `idempotency_key` already used by this owner, the video that key
    created is returned (a repeat of the same request), nothing new is written.

    `from_event` is the id of an event in the original Next.js app's shape (no videoId) whose
    run is creating this video: the video's id is derived from it, so every delivery of that
    event finds the same video, and no event is recorded (that run is already under way)."""
    url, youtube_id = _clean_url(youtube_url)
    prompt = _clean_prompt(prompt)
    idempotency_key = _clean_idempotency_key(idempotency_key)

    if from_event:
        existing = Video.objects.filter(pk=video_id_for_event(from_event)).first()
        if existing is not None:
            return existing
    if idempotency_key:
        existing = _video_for_key(owner=owner, key=idempotency_key)
        if existing is not None:
            return _same_request_or_conflict(existing, url=url, prompt=prompt)
    try:
        # A savepoint, so that losing a race leaves a caller's transaction usable.
        with transaction.atomic():
            return _video_create(
                owner=owner,
                url=url,
                youtube_id=youtube_id,
                prompt=prompt,
                idempotency_key=idempotency_key,
                from_event=from_event,
            )
    except IntegrityError:
        # Another process committed the same key (or event) between our lookup and our insert.
        if from_event:
            return Video.objects.get(pk=video_id_for_event(from_event))
        existing = _video_for_key(owner=owner, key=idempotency_key) if idempotency_key else None
        if existing is None:
            raise
        return _same_request_or_conflict(existing, url=url, prompt=prompt)


def _video_create(*, owner, url, youtube_id, prompt, idempotency_key, from_event) -> Video:
    video_id = video_id_for_event(from_event) if from_event else uuid.uuid4()
    video = Video.objects.create(
        id=video_id,
        owner=owner,
        youtube_url=url,
        youtube_id=youtube_id,
        prompt=prompt,
        s3_key=Video.s3_key_for(video_id),
        idempotency_key=idempotency_key,
        # The event under way works on it; Korai's own videos get theirs just below.
        run_event_id=from_event,
    )
    if not from_event:
        _record_identify_event(video)
    return video


def video_rerun(*, video: Video, only_if: QuerySet | None = None) -> Video:
    """Run a failed, cancelled or stuck video's identification again: back to `pending` with a
    new event (a new event id, so a new Inngest run). A completed video has nothing to run
    again."""
    return job_rerun(
        video,
        only_if=only_if,
        record_event=_record_identify_event,
        refused=lambda video: ConflictError(
            "This video's clips are already identified; there is nothing to run again.",
            code="video_completed",
        ),
    )


def video_cancel(*, video: Video) -> Video:
    """Cancel a pending or processing video: `cancelled` now, and a `video/identify.cancelled`
    event (sent after commit) that cancels its Inngest run. A step still in flight finds the
    video cancelled and writes nothing, and an answer kept for the save step is deleted.
    ConflictError if the video is already final."""
    with transaction.atomic():
        video = _video_cancel(video)
        IdentifyAnswer.objects.filter(video=video).delete()
    return video


def _video_cancel(video: Video) -> Video:
    return job_cancel(
        video,
        record_event=lambda video: event_record(
            name=IDENTIFY_CANCELLED_EVENT,
            # The run to cancel: its event's id (the function's cancel rule matches on it).
            data={"videoId": str(video.pk), "runEventId": video.run_event_id},
            job=video,
        ),
        refused=lambda video: ConflictError(
            f"This video is {video.status}: only a pending or processing video can be cancelled.",
            code="video_final",
        ),
    )


# --- What the steps of identify-clips call ------------------------------------------------------


def video_start_for_event(*, event_id: str, data: dict, run_id: str, attempt: int) -> Video:
    """Start the video of a `video/identify.clips` event for run `run_id`. An event in the
    original Next.js app's shape (`{youtubeUrl, prompt, userId}`, no videoId) first becomes a
    video through `video_submit`, with the API's validation and its messages."""
    video_id = data.get("videoId")
    if not video_id:
        owner = user_for_event(data.get("userId"))
        try:
            video_id = video_submit(
                owner=owner,
                youtube_url=str(data.get("youtubeUrl") or ""),
                prompt=str(data.get("prompt") or ""),
                from_event=event_id,
            ).pk
        except ValidationError as err:
            raise JobError.invalid(err) from None
    return job_start(
        model=Video,
        job_id=str(video_id),
        run_id=run_id,
        event_id=event_id,
        step="create-video-record",
        attempt=attempt,
    )


def video_identify_call(
    *, video_id: str, run_id: str, youtube_url: str, s3_key: str, prompt: str, last: bool = False
) -> dict:
    """One request of the run's identification call: the POST, or, once the service answered
    `303`, a GET of its result URL (kept on the video by `pending_call_keep` first, so a retry
    after anything cut this step waits on the same call instead of paying for a new one).
    Returns `identify_answer_store`'s counts, or `{"waiting": True}` while the call runs; on
    the `last` wait a call still running is given up (ClipsApiNoResult). A repeated step whose
    answer is already kept calls nothing."""
    kept = IdentifyAnswer.objects.filter(video_id=as_uuid(video_id), inngest_run_id=run_id)
    if answer := kept.values_list("answer", flat=True).first():
        return _answer_counts(answer)
    result = call_resumed(
        Video,
        video_id,
        run_id,
        functools.partial(
            clips_api.identify_clips, youtube_url=youtube_url, s3_key=s3_key, prompt=prompt
        ),
        api="identify-clips",
        last=last,
    )
    if isinstance(result, clips_api.StillRunning):
        return {"waiting": True}
    return identify_answer_store(video_id=video_id, run_id=run_id, answer=result)


def _answer_counts(answer: dict) -> dict:
    return {"clips": len(answer["identified_clips"]), "dropped": len(answer["dropped"])}


def identify_answer_store(*, video_id: str, run_id: str, answer: dict) -> dict:
    """Keep an identification answer (`read_identify_answer`'s dict, integrations) for
    the step that saves its clips, and return what the fetching step hands on: counts only, so
    the function's step state stays a few hundred bytes whatever the answer's size. An answer
    that arrives after the video was cancelled (or deleted) is not kept: JobStopped/JobError."""
    with transaction.atomic():
        video = job_of_run(Video, video_id, run_id)  # locked: its pending call is current
        IdentifyAnswer.objects.update_or_create(
            video_id=as_uuid(video_id), defaults={"inngest_run_id": run_id, "answer": answer}
        )
        if video.pending_call_url:  # the result is in: nothing to wait on
            pending_call_forget(Video, video_id)
    return _answer_counts(answer)


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
        if video.status != Video.Status.PROCESSING:  # cancelled: its answer was deleted
            raise JobStopped(f"video {video_id} is {video.status}: there is no answer to save")
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


def identify_answers_left_delete(*, video_id: str | None = None) -> int:
    """Delete the identification answers no run will save (of `video_id`, or of every video):
    their video is no longer `processing` by the run that fetched them (cancelled, failed,
    completed or taken over by another run). Returns how many. The `-failed`/`-cancelled`
    functions call it for their video, reconciliation for all."""
    answers = (
        IdentifyAnswer.objects.all()
        if video_id is None
        else IdentifyAnswer.objects.filter(video_id=as_uuid(video_id))
    )
    current = Video.objects.filter(
        pk=OuterRef("video_id"),
        status=Video.Status.PROCESSING,
        inngest_run_id=OuterRef("inngest_run_id"),
    )
    deleted, _ = answers.exclude(Exists(current)).delete()
    return deleted


def identify_event(video: Video) -> dict:
    """The `video/identify.clips` event that starts the video's identification (its name and
    data, as the outbox records and sends it)."""
    return {
        "name": IDENTIFY_EVENT,
        "data": {
            "videoId": str(video.pk),
            "youtubeUrl": video.youtube_url,
            "prompt": video.prompt,
            "userId": str(video.owner_id),
        },
    }


def _record_identify_event(video: Video) -> None:
    job_triggered(video, event_record(**identify_event(video), job=video))


def _video_for_key(*, owner, key: str) -> Video | None:
    return Video.objects.filter(owner=owner, idempotency_key=key).first()


def _same_request_or_conflict(video: Video, *, url: str, prompt: str) -> Video:
    # The same key with a different body is a client bug; answering with the first video
    # would silently drop the second request.
    if video.youtube_url != url or video.prompt != prompt:
        raise ConflictError(
            "This Idempotency-Key was already used for a different submission.",
            code="idempotency_key_reused",
        )
    return video


def _clean_url(youtube_url: str) -> tuple[str, str]:
    try:
        return normalize_youtube_url(youtube_url)
    except ValidationError as exc:
        raise ValidationError({"youtube_url": exc.messages}) from exc


def _clean_prompt(prompt: str | None) -> str:
    prompt = (prompt or "").strip()
    limit = settings.KORAI_PROMPT_MAX_LENGTH
    if len(prompt) > limit:
        raise ValidationError({"prompt": [f"The prompt is too long (at most {limit} characters)."]})
    if "\x00" in prompt:
        # PostgreSQL text cannot hold NUL.
        raise ValidationError({"prompt": ["The prompt contains a NUL character."]})
    return prompt


def _clean_idempotency_key(key: str | None) -> str:
    key = (key or "").strip()
    if len(key) > IDEMPOTENCY_KEY_MAX_LENGTH or not key.isascii() or not key.isprintable():
        raise ValidationError(
            {
                "idempotency_key": [
                    "The Idempotency-Key header must be printable ASCII, "
                    f"at most {IDEMPOTENCY_KEY_MAX_LENGTH} characters."
                ]
            }
        )
    return key


# How the reruns (`resend_events`, the admin) treat videos.
VIDEO_JOB = JobKind(
    model=Video,
    rerun=lambda video, only_if=None: video_rerun(video=video, only_if=only_if),
    stuck=videos_stuck,
)
