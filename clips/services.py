"""Writes of a video's clips."""

from django.db import models

from clips.models import Clip

_CLIP_FIELDS = ("title", "summary", "virality_score", "related_topics", "transcript")


def clips_replace(*, video: models.Model, clips: list[dict]) -> None:
    """Make the video's clips exactly `clips` (`integrations.clips_api.parse_identify_response`'s
    `identified_clips`), in the caller's transaction.

    Running it twice leaves one set of clips: rows are upserted on (video, start, end) and clips
    the answer no longer contains are removed."""
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


def _fields(clip: dict) -> dict:
    return {name: clip[name] for name in _CLIP_FIELDS}
