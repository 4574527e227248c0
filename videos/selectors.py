"""Reads of videos and their clips. Every per-user read filters by owner, so another user's
video is simply not found."""

import functools
from datetime import timedelta

from django.db import connection
from django.db.models import Prefetch, QuerySet
from django.http import Http404

from clips.models import Clip
from jobs.selectors import jobs_stuck
from outbox.selectors import job_undelivered_event_error, pending_reason
from videos.models import Video

# What the status endpoint answers; the polling hot path reads only these columns.
STATUS_FIELDS = (
    "id",
    "status",
    "total_clips",
    "last_error",
    "attempts",
    "created_at",
    "updated_at",
    "started_at",
    "finished_at",
    "exported_clip_count",
)


def videos_for_user(*, user, status: str | None = None) -> QuerySet[Video]:
    """The user's videos, newest first (the `video_owner_created` index)."""
    videos = Video.objects.filter(owner=user)
    if status:
        videos = videos.filter(status=status)
    return videos.order_by("-created_at", "-pk")


def video_get(*, user, video_id) -> Video:
    """One of the user's videos with its clips (highest virality first), or Http404."""
    clips = Prefetch("clips", queryset=Clip.objects.order_by("-virality_score", "start"))
    return _get_or_404(Video.objects.filter(owner=user).prefetch_related(clips), video_id)


def video_status_get(*, user, video_id) -> dict:
    """The polling endpoint's answer: one indexed query for a few columns of one row. No clip or
    exported clip row is read; `exported_clip_count` is kept on the video for this. Only a
    pending video reads the error of its undelivered event (`pending_reason`), with a second
    query: as a subquery of every poll it cost more to build than the rest of the answer, and
    most polls are of videos processing or done."""
    params = [Video._meta.pk.get_db_prep_value(video_id, connection), user.pk]
    video = next(iter(Video.objects.raw(_status_sql(), params)), None)
    if video is None:
        raise Http404("No video with this id.")
    row = {name: getattr(video, name) for name in STATUS_FIELDS}
    row["exported_clips"] = row.pop("exported_clip_count")
    row["processing_status"] = row.pop("status")  # the API's name
    row["pending_reason"] = (
        pending_reason(job_undelivered_event_error(video))
        if row["processing_status"] == Video.Status.PENDING
        else None
    )
    return row


@functools.cache
def _status_sql() -> str:
    """The status query, written once from the model's columns: building it with the ORM on
    every poll cost more than PostgreSQL answering it (bench/poll.py). `raw()` still converts
    the columns as the ORM does."""
    quote, meta = connection.ops.quote_name, Video._meta
    columns = ", ".join(quote(meta.get_field(name).column) for name in STATUS_FIELDS)
    # Identifiers from the model only; the values go in as parameters.
    return (
        f"SELECT {columns} FROM {quote(meta.db_table)} WHERE {quote(meta.pk.column)} = %s"  # noqa: S608
        f" AND {quote(meta.get_field('owner').column)} = %s"
    )


def video_for_user(*, user, video_id) -> Video:
    """The user's video without its children (to check ownership before a child query)."""
    return _get_or_404(Video.objects.filter(owner=user), video_id)


def clips_for_video(*, video: Video, min_score: float | None = None) -> QuerySet[Clip]:
    clips = Clip.objects.filter(video=video)
    if min_score is not None:
        clips = clips.filter(virality_score__gte=min_score)
    return clips.order_by("-virality_score", "start", "pk")


def _get_or_404(queryset: QuerySet[Video], video_id) -> Video:
    try:
        return queryset.get(pk=video_id)
    except Video.DoesNotExist as exc:
        raise Http404("No video with this id.") from exc


def videos_stuck(*, older_than: timedelta) -> QuerySet[Video]:
    """Videos that made no progress for `older_than` (the rule every job shares:
    `jobs.selectors.jobs_stuck`): what the admin's filter, the dashboard and
    `resend_events --stuck` select."""
    return jobs_stuck(Video.objects.all(), older_than=older_than)
