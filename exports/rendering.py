"""The services of the render steps of `process-clips`: render what is missing of an export in
ONE call of the processing API, keep each output under a key of the export, record a render
that failed for good, finish the export from its clips.

Each is safe to run twice: Inngest may deliver a step again after its writes committed, and a
rerun of a partial export must not render again the clips that already succeeded."""

import math
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from clips.models import Clip
from exports.leases import render_lease_acquire, render_lease_release, render_lease_renew
from exports.models import Export, ExportedClip, RenderLease
from exports.subtitles import subtitle_customization
from integrations import clips_api, storage
from integrations.storage import StorageError, StorageUnavailable
from jobs import lifecycle
from jobs.calls import pending_call, pending_call_forget, pending_call_keep
from jobs.records import (
    JobError,
    JobWaiting,
    as_uuid,
    ensure_run,
    job_note,
    lock,
    truncate_error,
)
from videos.models import Video

# Beyond the longest call (or copies): a render's lease outlives its own deadlines, so it is
# never taken over from a render still at work.
LEASE_MARGIN_SECONDS = 60


def export_render(
    *, export_id: str, run_id: str, step: str, attempt: int, last: bool = False
) -> dict:
    """Render every range of the export that is not rendered yet, in ONE call of the processing
    API, and copy each output to a key of the export (`Export.clip_key`); a range the answer
    lacks, or whose output cannot be copied, gets its error. Returns `{"requested",
    "rendered", "failed"}` (small: it is the step's output), or `{"waiting": True}` while the
    call runs: the service answered `303`, its result URL is kept on the export
    (`jobs.calls`), and the run's next step (or this one's retry) calls this again, which
    waits on that URL instead of posting; on the `last` wait a call still running is given up
    (ClipsApiNoResult).

    The API writes outputs to `{dirname(s3_key)}/clip_{i}.mp4` by position in the request, so
    the next render of the same video overwrites them: from before the call until the last
    copy this run holds the video's render lease (`exports.leases`). While another export's
    render holds it, the API is not called: JobWaiting, asked again later. A repeat (a retried
    or re-delivered step, a rerun of a partial export) renders only what is still missing, so
    it never overwrites a clip that was kept.

    An export cancelled (or taken over by a newer run) before the call is not rendered, and one
    cancelled while the API worked keeps nothing of that call: no copy, no clip row (JobStopped);
    a rerun renders those ranges again. Nor does a render whose lease was lost meanwhile
    (RenderLeaseLost, retried).

    Raises JobError when the export is gone or storage is not configured, what
    `integrations.clips_api.process_clips` raises, and StorageUnavailable when the store is
    down (the step is retried; the render is repeated). No transaction is held while the API
    works."""
    if not storage.is_configured():
        raise JobError(
            "object storage is not configured (AWS_S3_BUCKET_NAME): nowhere to keep "
            "the rendered clips"
        )
    export = Export.objects.select_related("video").filter(pk=as_uuid(export_id)).first()
    if export is None:
        raise JobError(f"export {export_id} does not exist")
    ensure_run(export, run_id)  # cancelled before the call: no render to pay for
    missing = _missing_ranges(export)
    if not missing:
        return {"requested": 0, "rendered": 0, "failed": 0}
    lease = render_lease_acquire(
        video_id=export.video_id,
        export_id=export_id,
        run_id=run_id,
        seconds=clips_api.process_call_max_seconds() + LEASE_MARGIN_SECONDS,
    )
    if not lease.held_by(export_id=export_id, run_id=run_id):
        # A call of this run in flight lost the video (its lease expired before this step
        # came): the outputs it writes may be overwritten, so it is rendered again once free.
        pending_call_forget(Export, export_id)
        raise _wait_for(lease, export_id=export_id, run_id=run_id, step=step, attempt=attempt)
    try:
        return _render(export, missing, run_id=run_id, step=step, attempt=attempt, last=last)
    finally:
        # Whatever ended the render (done, refused, failed, cancelled): the video is free;
        # but while its call is still running (its result URL kept), the service may still be
        # writing the video's outputs: the lease stays for this run's next step or retry.
        if not pending_call(Export, export_id, run_id):
            render_lease_release(video_id=export.video_id, export_id=export_id, run_id=run_id)


def _render(
    export: Export, missing: list, *, run_id: str, step: str, attempt: int, last: bool
) -> dict:
    """The call (one request of it), the copies and their rows, for a run that holds the
    video's lease."""
    export_id = str(export.pk)
    processed = clips_api.process_clips(
        s3_key=export.video.s3_key,
        clips=[{"start": start, "end": end} for _, start, end in missing],
        prompt=export.video.prompt,
        target_language=export.target_language,
        aspect_ratio=export.aspect_ratio,
        subtitles=export.subtitles,
        subtitle_customization=subtitle_customization(export.subtitle_style),
        result_url=pending_call(Export, export_id, run_id),
    )
    if isinstance(processed, clips_api.StillRunning):
        # Kept before anything else: a retry after whatever cuts this step resumes the call.
        pending_call_keep(Export, export_id, run_id, processed.result_url)
        if last:
            raise clips_api.ClipsApiNoResult(
                f"process-clips API had no result after {clips_api.waits_allowed()} waits "
                f"of {settings.CLIPS_API_REDIRECT_INTERVAL_SECONDS:g} s: given up, not posted "
                "again"
            )
        return {"waiting": True}
    # The call is over: nothing of it is still writing (a failure of the copies renders again).
    pending_call_forget(Export, export_id)
    _ensure_still_rendering(export_id, run_id)  # cancelled while the API worked: no copies
    copying = len(missing) * (
        settings.AWS_S3_CONNECT_TIMEOUT_SECONDS + settings.AWS_S3_READ_TIMEOUT_SECONDS
    )
    if not render_lease_renew(
        video_id=export.video_id,
        export_id=export_id,
        run_id=run_id,
        seconds=copying + LEASE_MARGIN_SECONDS,
    ):
        raise RenderLeaseLost(export)
    outcomes = {}  # index in selected_ranges -> (kept key, error)
    for index, start, end in missing:
        output = clips_api.rendered_for(processed, start=start, end=end)
        if output is None:
            outcomes[index] = (
                "",
                f"the processing API's answer has no clip for {start:g}-{end:g}s",
            )
            continue
        try:
            storage.copy_object(output["s3_key"], export.clip_key(index))
        except StorageUnavailable:
            raise
        except StorageError as err:
            outcomes[index] = ("", f"the rendered clip could not be kept: {err}")
            continue
        outcomes[index] = (export.clip_key(index), "")
    rendered = sum(1 for key, _ in outcomes.values() if key)
    with transaction.atomic():
        # The export first, then its clips, in the same order as `export_finish`. Deleted or
        # cancelled while the copies were made: nothing is written (delete-video-objects sweeps
        # a deleted video's copies; a rerun overwrites a cancelled export's).
        locked = _ensure_still_rendering(export_id, run_id, lock=True)
        # Given back with the rows: still ours, or the copies may hold another render's bytes.
        if not render_lease_release(video_id=export.video_id, export_id=export_id, run_id=run_id):
            raise RenderLeaseLost(export)
        for index, (key, error) in outcomes.items():
            _store(locked, locked.selected_ranges[index], s3_key=key, error=error)
        job_note(
            locked,
            step=step,
            attempt=attempt,
            detail=f"{rendered} of {len(missing)} clips rendered in one call",
        )
        locked.save(update_fields=["timeline", "updated_at"])
    return {"requested": len(missing), "rendered": rendered, "failed": len(missing) - rendered}


def _wait_for(
    lease: RenderLease, *, export_id: str, run_id: str, step: str, attempt: int
) -> JobWaiting:
    """Another render holds the video: note it on the export and ask to be called again. The
    remaining attempts are spread over what is left of that lease, so the last one comes after
    it expired: a render is refused for waiting only if another took the video meanwhile."""
    remaining = (lease.expires_at - timezone.now()).total_seconds()
    retries_left = max(settings.INNGEST_RETRIES - attempt, 1)
    delay = timedelta(seconds=max(math.ceil(remaining / retries_left), 1))
    detail = f"waiting for export {lease.export_id} of the same video"
    with transaction.atomic():
        export = Export.objects.select_for_update().filter(pk=as_uuid(export_id)).first()
        if export is not None:
            ensure_run(export, run_id)  # cancelled meanwhile: stop, not wait
            job_note(export, step=step, attempt=attempt, detail=detail)
            export.save(update_fields=["timeline", "updated_at"])
    return JobWaiting(f"{detail}, which renders it until {lease.expires_at:%H:%M:%S} UTC", delay)


class RenderLeaseLost(Exception):
    """This run's lease of the video expired and another render took it while the API worked
    or the copies were made: the outputs may be that render's, so nothing is kept and the step
    is retried (rendered again)."""

    def __init__(self, export: Export) -> None:
        super().__init__(
            f"the render lease of video {export.video_id} expired before the clips were kept: "
            "rendering again"
        )


def _ensure_still_rendering(export_id: str, run_id: str, *, lock: bool = False) -> Export:
    """The export, if run `run_id` still renders it: JobError if it was deleted meanwhile,
    JobStopped if it was cancelled or taken over by a newer run."""
    exports = Export.objects.select_for_update() if lock else Export.objects
    export = exports.filter(pk=as_uuid(export_id)).first()
    if export is None:
        raise JobError(f"export {export_id} was deleted while its clips were rendered")
    ensure_run(export, run_id)
    return export


def export_render_failed(*, export_id: str, step: str, attempt: int, error: str) -> None:
    """The render call failed for good (a refusal, or retries exhausted): every range still
    missing gets `error`, so the export can finish `partial` or `failed` with a reason per
    clip. Nothing is written to an export that is no longer being processed (cancelled)."""
    with transaction.atomic():
        export = Export.objects.select_for_update().filter(pk=as_uuid(export_id)).first()
        if export is None or export.status != Export.Status.PROCESSING:
            return
        for index, _, _ in _missing_ranges(export):
            _store(export, export.selected_ranges[index], s3_key="", error=error)
        export.last_error = truncate_error(error)
        job_note(export, step=step, attempt=attempt, detail=f"failed: {export.last_error}")
        export.save(update_fields=["last_error", "timeline", "updated_at"])


def _missing_ranges(export: Export) -> list[tuple[int, float, float]]:
    """(index, start, end) of each selected range without a rendered clip, in order."""
    rendered = {
        (start, end)
        for start, end in ExportedClip.objects.filter(export=export)
        .exclude(s3_key="")
        .values_list("start", "end")
    }
    ranges = [
        (index, float(selected["start"]), float(selected["end"]))
        for index, selected in enumerate(export.selected_ranges)
    ]
    return [(index, start, end) for index, start, end in ranges if (start, end) not in rendered]


@transaction.atomic
def export_finish(*, export_id: str, attempt: int) -> Export:
    """Finish the export from its clips: `completed` (all rendered), `partial` (some) or
    `failed` (none); a range with no outcome at all counts as "not processed". An export
    cancelled meanwhile, finished already (a second delivery of the step) or sent back to
    pending by a rerun is returned as it is: nothing is written."""
    export = lock(Export, export_id)
    if export.status != Export.Status.PROCESSING:
        return export
    by_range = {(float(r["start"]), float(r["end"])): r for r in export.selected_ranges}
    rendered = {(c.start, c.end): c for c in export.exported_clips.all()}
    failures = [
        f"{s:g}-{e:g}s: {rendered[(s, e)].error if (s, e) in rendered else 'not processed'}"
        for (s, e) in by_range
        if not ((s, e) in rendered and rendered[(s, e)].succeeded)
    ]
    if not failures:
        status = Export.Status.COMPLETED
        export.last_error = ""
    else:
        status = Export.Status.FAILED if len(failures) == len(by_range) else Export.Status.PARTIAL
        export.last_error = truncate_error(
            f"{len(failures)} of {len(by_range)} clips failed. " + "; ".join(failures)
        )
    lifecycle.transition(
        export,
        status,
        step="save-exported-clips-to-database",
        attempt=attempt,
        detail=f"{len(by_range) - len(failures)} of {len(by_range)} clips rendered",
    )
    export.save()
    return export


def _store(export: Export, selected: dict, *, s3_key: str, error: str) -> ExportedClip:
    """Write one clip's outcome. The caller holds a transaction with the export locked (so
    two writers of one clip take turns)."""
    start, end = float(selected["start"]), float(selected["end"])
    row = (
        ExportedClip.objects.select_for_update().filter(export=export, start=start, end=end).first()
    )
    if row is not None and row.succeeded:
        return row
    clip_id = selected.get("clip_id")
    source = Clip.objects.filter(pk=clip_id, video_id=export.video_id).first() if clip_id else None
    row, _ = ExportedClip.objects.update_or_create(
        export=export,
        start=start,
        end=end,
        defaults={
            "video_id": export.video_id,
            "source_clip": source,
            "s3_key": s3_key,
            "error": "" if s3_key else truncate_error(error),
            "aspect_ratio": export.aspect_ratio,
            "target_language": export.target_language,
        },
    )
    if s3_key:
        # The row turned from missing or failed into rendered (a rendered row returned
        # above), so this counts each rendered clip exactly once.
        Video.objects.filter(pk=export.video_id).update(
            exported_clip_count=F("exported_clip_count") + 1
        )
    return row
