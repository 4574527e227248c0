"""Writes for videos that the API and the operators start: submitting one, running it again."""

import uuid

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction

from core.events import IDENTIFY_CANCELLED_EVENT, IDENTIFY_EVENT
from core.exceptions import ConflictError
from jobs import lifecycle
from jobs.lifecycle import TransitionRefused
from jobs.reruns import JobKind
from outbox.services import event_record
from videos.models import Video
from videos.selectors import videos_stuck
from videos.youtube import normalize_youtube_url

IDEMPOTENCY_KEY_MAX_LENGTH = 255


def video_submit(*, owner, youtube_url: str, prompt: str = "", idempotency_key: str = "") -> Video:
    """Record a video and its `video/identify.clips` event in one transaction; the event is sent
    after commit. With an `idempotency_key` already used by this owner, the video that key
    created is returned (a repeat of the same request), nothing new is written."""
    url, youtube_id = _clean_url(youtube_url)
    prompt = _clean_prompt(prompt)
    idempotency_key = _clean_idempotency_key(idempotency_key)

    if idempotency_key:
        existing = _video_for_key(owner=owner, key=idempotency_key)
        if existing is not None:
            return _same_request_or_conflict(existing, url=url, prompt=prompt)
    try:
        # A savepoint, so that losing a race on the key leaves a caller's transaction usable.
        with transaction.atomic():
            return _video_create(
                owner=owner,
                url=url,
                youtube_id=youtube_id,
                prompt=prompt,
                idempotency_key=idempotency_key,
            )
    except IntegrityError:
        # Another process committed the same key between our lookup and our insert.
        existing = _video_for_key(owner=owner, key=idempotency_key) if idempotency_key else None
        if existing is None:
            raise
        return _same_request_or_conflict(existing, url=url, prompt=prompt)


def _video_create(*, owner, url, youtube_id, prompt, idempotency_key) -> Video:
    video_id = uuid.uuid4()
    video = Video.objects.create(
        id=video_id,
        owner=owner,
        youtube_url=url,
        youtube_id=youtube_id,
        prompt=prompt,
        s3_key=Video.s3_key_for(video_id),
        idempotency_key=idempotency_key,
    )
    _record_identify_event(video)
    return video


@transaction.atomic
def video_rerun(*, video: Video) -> Video:
    """Run a failed, cancelled or stuck video's identification again: back to `pending` with a
    new event (a new event id, so a new Inngest run). A completed video has nothing to run
    again."""
    video = Video.objects.select_for_update().get(pk=video.pk)
    try:
        lifecycle.transition(video, Video.Status.PENDING, step="run-again")
    except TransitionRefused:
        raise ConflictError(
            "This video's clips are already identified; there is nothing to run again.",
            code="video_completed",
        ) from None
    video.save()
    _record_identify_event(video)
    return video


@transaction.atomic
def video_cancel(*, video: Video) -> Video:
    """Cancel a pending or processing video: `cancelled` now, and a `video/identify.cancelled`
    event (sent after commit) that cancels its Inngest run. A step still in flight finds the
    video cancelled and writes nothing. ConflictError if the video is already final."""
    video = Video.objects.select_for_update().get(pk=video.pk)
    try:
        lifecycle.transition(video, Video.Status.CANCELLED, step="cancel")
    except TransitionRefused:
        raise ConflictError(
            f"This video is {video.status}: only a pending or processing video can be cancelled.",
            code="video_final",
        ) from None
    video.save()
    event_record(name=IDENTIFY_CANCELLED_EVENT, data={"videoId": str(video.pk)}, job=video)
    return video


def _record_identify_event(video: Video) -> None:
    event_record(
        name=IDENTIFY_EVENT,
        data={
            "videoId": str(video.pk),
            "youtubeUrl": video.youtube_url,
            "prompt": video.prompt,
            "userId": str(video.owner_id),
        },
        job=video,
    )


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
VIDEO_JOB = JobKind(model=Video, rerun=lambda video: video_rerun(video=video), stuck=videos_stuck)
