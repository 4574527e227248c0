"""Reads of exports. Every per-user read filters by owner, so another user's export is simply
not found."""

from datetime import timedelta

from django.db.models import Prefetch, QuerySet
from django.http import Http404

from exports.models import Export, ExportedClip
from jobs.selectors import jobs_stuck
from outbox.selectors import undelivered_event_error
from videos.models import Video


def _with_exported_clips(exports: QuerySet[Export]) -> QuerySet[Export]:
    """With the exported clips (one more query) and `undelivered_error` (the API's
    `pending_reason`, in the same SELECT)."""
    return exports.annotate(undelivered_error=undelivered_event_error(Export)).prefetch_related(
        Prefetch("exported_clips", queryset=ExportedClip.objects.order_by("start", "end"))
    )


def exports_for_video(*, video: Video) -> QuerySet[Export]:
    """A video's exports, newest first, each with its exported clips (two queries in all)."""
    return _with_exported_clips(Export.objects.filter(video=video)).order_by("-created_at", "-pk")


def export_get(*, user, export_id) -> Export:
    """One of the user's exports with its exported clips, or Http404."""
    try:
        return _with_exported_clips(Export.objects.filter(owner=user)).get(pk=export_id)
    except Export.DoesNotExist as exc:
        raise Http404("No export with this id.") from exc


def export_for_user(*, user, export_id) -> Export:
    """The user's export without its children (to check ownership before a write)."""
    try:
        return Export.objects.filter(owner=user).get(pk=export_id)
    except Export.DoesNotExist as exc:
        raise Http404("No export with this id.") from exc


def exported_clips_for_video(*, video: Video, s3_key: str | None = None) -> QuerySet[ExportedClip]:
    """A video's rendered clips (those with an object; failures are the exports' business),
    newest first; with `s3_key`, only the one stored under that key."""
    clips = ExportedClip.objects.filter(video=video).exclude(s3_key="")
    if s3_key is not None:
        clips = clips.filter(s3_key=s3_key)
    return clips.order_by("-created_at", "start", "pk")


def exports_stuck(*, older_than: timedelta) -> QuerySet[Export]:
    """Exports that made no progress for `older_than` (the rule every job shares:
    `jobs.selectors.jobs_stuck`): what the admin's filter, the dashboard and
    `resend_events --stuck` select."""
    return jobs_stuck(Export.objects.all(), older_than=older_than)
