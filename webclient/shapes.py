"""The web client's answer shapes: camelCase keys, and the numbers it reads as strings.

The original backend stored clip times and scores as the strings JavaScript printed for the
identify API's numbers, and the client joins an exported clip to its clip by string equality of
`start`/`end`; so every number here is printed the one way JavaScript does (`number_text`)."""

from datetime import UTC, datetime

from clips.models import Clip
from exports.models import ExportedClip
from videos.models import Video

# The columns the video list reads: the polling path loads nothing else.
VIDEO_LIST_FIELDS = (
    "id",
    "youtube_url",
    "s3_key",
    "prompt",
    "status",
    "total_clips",
    "duration_seconds",
    "detected_language",
    "s3_path",
    "last_error",
    "created_at",
)


def number_text(value: float | None) -> str | None:
    """`value` as JavaScript's `String(number)` prints it: 10.0 → "10", 154.623 → "154.623"
    (Python's repr and JavaScript both print the shortest text that reads back the same)."""
    if value is None:
        return None
    value = float(value)
    return str(int(value)) if value.is_integer() else repr(value)


def time_text(value: datetime) -> str:
    """An ISO 8601 UTC time as JavaScript's `Date#toISOString` prints it."""
    if value.utcoffset():
        value = value.astimezone(UTC)
    return value.replace(tzinfo=None).isoformat(timespec="milliseconds") + "Z"


def video_summary(row: dict) -> dict:
    """One entry of `GET /api/clips/videos`, from a `values(*VIDEO_LIST_FIELDS)` row."""
    status = row["status"]
    return {
        "id": str(row["id"]),
        "youtubeUrl": row["youtube_url"],
        "s3Key": row["s3_key"],
        "prompt": row["prompt"] or None,
        # The list page shows "Processing…" while this is 0, so it stays 0 until the clips are in.
        "totalClips": row["total_clips"] if status == Video.Status.COMPLETED else 0,
        "videoDuration": number_text(row["duration_seconds"]),
        "detectedLanguage": row["detected_language"] or None,
        "s3Path": row["s3_path"] or None,
        "createdAt": time_text(row["created_at"]),
        # Additions: the original had no status, so a failed video looked like one in progress.
        "processingStatus": status,
        "error": row["last_error"] or None,
    }


def video_detail(video: Video) -> dict:
    """`GET /api/clips/videos/{id}`: the video with its clips (prefetched, best first)."""
    summary = video_summary({field: getattr(video, field) for field in VIDEO_LIST_FIELDS})
    return {**summary, "clips": [clip(c) for c in video.clips.all()]}


# The older pages (`/dashboard/clips/list`, `/dashboard/clips/[videoId]`) read the original's
# video rows bare: with `userId` and `updatedAt`, and `totalClips` null until the clips are in
# (the list page shows "Processing" while it is null).
OLDER_VIDEO_FIELDS = (*VIDEO_LIST_FIELDS, "updated_at")


def client_user_id(user) -> str:
    """The original's `userId`: the Clerk user id (Korai's own id for a user without one)."""
    return user.clerk_id or str(user.pk)


def older_video(row: dict, *, user_id: str) -> dict:
    """A video as the original's row, from a `values(*OLDER_VIDEO_FIELDS)` row."""
    summary = video_summary(row)
    return {
        **summary,
        "userId": user_id,
        "totalClips": summary["totalClips"] if row["status"] == Video.Status.COMPLETED else None,
        "updatedAt": time_text(row["updated_at"]),
    }


def older_video_summary(row: dict, *, user_id: str) -> dict:
    """One entry of `GET /api/clips/list`. A completed video's `total_clips` is the number of
    its clip rows (`video_complete` writes both at once), and no other video has clips."""
    count = row["total_clips"] if row["status"] == Video.Status.COMPLETED else 0
    return {**older_video(row, user_id=user_id), "_count": {"clips": count}}


def older_video_detail(video: Video, *, user_id: str) -> dict:
    """`GET /api/clips/{videoId}`: the video with its clips (prefetched, best first)."""
    row = {field: getattr(video, field) for field in OLDER_VIDEO_FIELDS}
    return {**older_video(row, user_id=user_id), "clips": [clip(c) for c in video.clips.all()]}


def clip(item: Clip) -> dict:
    topics = item.related_topics if isinstance(item.related_topics, list) else []
    return {
        "id": str(item.pk),
        "videoId": str(item.video_id),
        "start": number_text(item.start),
        "end": number_text(item.end),
        "title": item.title,
        "summary": item.summary,
        "viralityScore": number_text(item.virality_score),
        "relatedTopics": [str(topic) for topic in topics],
        "transcript": item.transcript,
        "createdAt": time_text(item.created_at),
    }


def exported_clip(item: ExportedClip) -> dict:
    return {
        "id": str(item.pk),
        "videoId": str(item.video_id),
        "exportId": str(item.export_id),
        "start": number_text(item.start),
        "end": number_text(item.end),
        "s3Key": item.s3_key,
        "aspectRatio": item.aspect_ratio,
        "targetLanguage": item.target_language,
        "createdAt": time_text(item.created_at),
    }
