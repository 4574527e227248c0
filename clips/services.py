"""Writes of a video's clips."""

from django.db import transaction
from django.utils import timezone

from clips.models import Clip
from korai.jobs import job_note, lock
from videos.models import Video

_CLIP_FIELDS = ("title", "summary", "virality_score", "related_topics", "transcript")


@transaction.atomic
def clips_save(*, video_id: str, identified: dict, attempt: int) -> Video:
    """Store an identification answer (`korai.clips_api.parse_identify_response`'s dict): the
    video's metadata and exactly its clips, then mark the video `completed`.

    Running it twice leaves one set of clips: rows are upserted on (video, start, end) and clips
    the answer no longer contains are removed."""
    video = lock(Video, video_id)
    clips = identified["identified_clips"]
    Clip.objects.bulk_create(
        [Clip(video=video, start=c["start"], end=c["end"], **_fields(c)) for c in clips],
        update_conflicts=True,
        unique_fields=["video", "start", "end"],
        update_fields=list(_CLIP_FIELDS),
    )
    # Clips an earlier answer had and this one has not, compared in Python: one condition per
    # clip in SQL would exceed SQLite's expression depth at a thousand clips.
    wanted = {(c["start"], c["end"]) for c in clips}
    stale = [
        pk
        for pk, start, end in Clip.objects.filter(video=video).values_list("pk", "start", "end")
        if (start, end) not in wanted
    ]
    if stale:
        Clip.objects.filter(pk__in=stale).delete()

    video.total_clips = identified["total_clips"]
    video.duration_seconds = identified["video_duration"]
    video.detected_language = identified["detected_language"]
    video.s3_path = identified["s3_path"]
    video.processing_status = Video.Status.COMPLETED
    video.last_error = ""
    video.finished_at = timezone.now()
    job_note(video, step="save-clips-to-database", attempt=attempt, detail=f"{len(clips)} clips")
    video.save()
    return video


def _fields(clip: dict) -> dict:
    return {name: clip[name] for name in _CLIP_FIELDS}
