"""Deleting a video: its rows at once, its stored objects durably afterwards.

`video_delete` (the API's DELETE) removes the video, its clips, exports and exported clips in
one transaction, and records a `VideoDeletion` (the clean-up still to do, shown in the admin)
and the `video/deleted` event. The `delete-video-objects` function then empties the storage
folders it lists (`video_objects_delete`), retried while storage is down: an outage delays
the clean-up, never the delete, and never undoes it.

A delete while a job of the video runs is allowed. The job's next step finds its row gone and
ends without retry (`JobError`), writing nothing; a step already in flight finishes its API
call, and what it then leaves in storage (a render's outputs and copies, a source video) is
taken by the function's second sweep, made after the longest such call can last
(`KORAI_CLEANUP_SWEEP_DELAY_SECONDS`)."""

from django.db import OperationalError, connection, transaction
from django.utils import timezone
from psycopg.errors import DeadlockDetected

from core.events import VIDEO_DELETED_EVENT
from integrations import storage
from jobs.records import JobError, as_uuid, truncate_error
from outbox.services import event_record
from videos.models import Video, VideoDeletion

# Tries of a delete that PostgreSQL chose as a deadlock's victim.
DEADLOCK_TRIES = 3


def video_delete(*, video: Video) -> VideoDeletion:
    """Delete the video and everything under it, and record the removal of its stored objects
    (the video's folder and each export's), which happens after commit.

    The video's row is locked first, then the cascade locks the rows under it. A step that
    writes an export's clips takes the video's row first too (`exports.rendering`), so the two
    queue on it instead of deadlocking. Should PostgreSQL still pick the delete as a deadlock's
    victim (a writer not taking that order), it is tried again, so the user is not told the
    database is down; inside a caller's transaction it cannot be."""
    for tried in range(1, DEADLOCK_TRIES + 1):
        try:
            return _video_delete_once(video=video)
        except OperationalError as err:
            deadlock = isinstance(err.__cause__, DeadlockDetected)
            if not deadlock or tried == DEADLOCK_TRIES or connection.in_atomic_block:
                raise
    raise AssertionError("unreachable")


@transaction.atomic
def _video_delete_once(*, video: Video) -> VideoDeletion:
    video = Video.objects.select_for_update().get(pk=video.pk)
    # Each export's folder, read through the relation: this app does not import `exports`.
    # (`video_id` too: the related manager checks it on every row it returns.)
    exports = video.exports.only("pk", "video_id")
    prefixes = [video.storage_prefix, *(export.storage_prefix for export in exports)]
    deletion = VideoDeletion.objects.create(
        id=video.pk, owner_id=video.owner_id, youtube_id=video.youtube_id, prefixes=prefixes
    )
    run_event_id = video.run_event_id
    video.delete()  # its clips, exports, exported clips and events go with it
    event_record(
        name=VIDEO_DELETED_EVENT,
        # `runEventId`: cancels the video's run even when its event names no video (the
        # original app's shape).
        data={"videoId": str(deletion.pk), "prefixes": prefixes, "runEventId": run_event_id},
        deleted_subject_id=str(deletion.pk),
    )
    return deletion


def video_objects_delete(*, video_id: str, final: bool) -> int:
    """Delete every stored object under the deleted video's folders; returns how many. The
    folders come from its `VideoDeletion` row, never from the event, so an event can only
    clean up what a delete recorded. `final`: the last sweep, after which it is cleaned.

    Raises JobError for an unknown deletion, and StorageError/StorageUnavailable when storage
    fails (recorded on the row; the step is retried)."""
    deletion = VideoDeletion.objects.filter(pk=as_uuid(video_id)).first()
    if deletion is None:
        raise JobError(f"no deletion of video {video_id} is recorded")
    deleted = 0
    try:
        if storage.is_configured():
            for prefix in deletion.prefixes:
                deleted += storage.delete_prefix(prefix)
    except storage.StorageError as err:
        VideoDeletion.objects.filter(pk=deletion.pk).update(
            attempts=deletion.attempts + 1, last_error=truncate_error(str(err))
        )
        raise
    VideoDeletion.objects.filter(pk=deletion.pk).update(
        attempts=deletion.attempts + 1,
        objects_deleted=deletion.objects_deleted + deleted,
        last_error="",
        cleaned_at=timezone.now() if final else None,
    )
    return deleted


def video_cleanup_gave_up(*, video_id: str, error: str) -> None:
    """The function's retries ran out: the clean-up stays pending with the error, for an
    operator (admin: "Delete the stored objects again")."""
    VideoDeletion.objects.filter(pk=as_uuid(video_id), cleaned_at__isnull=True).update(
        last_error=truncate_error(f"gave up: {error}")
    )


@transaction.atomic
def video_cleanup_retry(*, deletion: VideoDeletion) -> VideoDeletion:
    """Start the clean-up of a deleted video again (a new `video/deleted` event)."""
    event_record(
        name=VIDEO_DELETED_EVENT,
        data={"videoId": str(deletion.pk), "prefixes": deletion.prefixes},
        deleted_subject_id=str(deletion.pk),
    )
    return deletion
