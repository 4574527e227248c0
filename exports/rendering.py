"""The services of the render steps of `process-clips`: render what is missing of an export in
ONE call of the processing API, keep each output under a key of the export, record a render
that failed for good, finish the export from its clips.

Each is safe to run twice: Inngest may deliver a step again after its writes committed, and a
rerun of a partial export must not render again the clips that already succeeded."""

import contextlib
import functools
import math
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from clips.models import Clip
from exports.leases import (
    render_lease_acquire,
    render_lease_answered,
    render_lease_held_by_another_run,
    render_lease_release,
    render_lease_renew,
)
from exports.models import Export, ExportedClip, RenderLease
from exports.subtitles import subtitle_customization
from integrations import clips_api, storage
from integrations.storage import StorageError, StorageUnavailable
from jobs import lifecycle
from jobs.calls import call_resumed, pending_call, pending_call_forget
from jobs.records import (
    JobError,
    JobStopped,
    JobWaiting,
    as_uuid,
    ensure_run,
    job_note,
    job_step_failed,
    lock,
    truncate_error,
)
from videos.models import Video

# Beyond the longest call (or copies): a render's lease outlives its own deadlines, so it is
# never taken over from a render still at work.
LEASE_MARGIN_SECONDS = 60
# The waits between tries of the copies while storage is down: Inngest's back-off table
# (`pkg/backoff/backoff.go`, `TableBackoff`), seconds.
COPY_RETRY_DELAYS = (15, 30, 60, 120, 300, 600, 1200, 2400, 3600, 7200)


def export_render(
    *, export_id: str, run_id: str, step: str, attempt: int, last: bool = False
) -> dict:
    """Render every range of the export that is not rendered yet, in ONE call of the processing
    API. Returns `{"requested", "rendered", "failed", "outputs"}` (the step's output: counts,
    and `[[index in selected_ranges, the output's key or ""], …]` for `export_copy_rendered`),
    or `{"waiting": True}` while the call runs: the service answered `303`, its result URL is
    kept on the export (`jobs.calls`), and the run's next step (or this one's retry) calls
    this again, which waits on that URL instead of posting; on the `last` wait a call still
    running is given up (ClipsApiNoResult).

    The API writes outputs to `{dirname(s3_key)}/clip_{i}.mp4` by position in the request, so
    the next render of the same video overwrites them: from before the call until the last
    copy this run holds the video's render lease (`exports.leases`), which keeps the outputs
    for the copies. While another export's render holds it, the API is not called:
    JobWaiting, asked again later. A repeat (a retried or re-delivered step, a rerun of a
    partial export) renders only what is still missing, so it never overwrites a clip that was
    kept; a step re-delivered after its call answered returns that answer again.

    An export cancelled (or taken over by a newer run) before the call is not rendered, and one
    cancelled while the API worked keeps nothing of that call (JobStopped). Nor does a render
    whose lease was lost meanwhile (RenderLeaseLost, retried).

    Raises JobError when the export is gone or storage is not configured, and what
    `integrations.clips_api.process_clips` raises. No transaction is held while the API
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
    answered = render_lease_answered(video_id=export.video_id, export_id=export_id, run_id=run_id)
    if answered is not None:
        return _rendered(answered.outputs)  # a re-delivered step: its call answered already
    missing = _missing_ranges(export)
    if not missing:
        return _rendered([])
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
        return _render(export, missing, run_id=run_id, last=last)
    except Exception:
        # Refused, failed, cancelled: the video is free; but while its call is still running
        # (its result URL kept), the service may still be writing the video's outputs: the
        # lease stays. Waiting or rendered: kept for this run's next step or its copies.
        if not pending_call(Export, export_id, run_id):
            render_lease_release(video_id=export.video_id, export_id=export_id, run_id=run_id)
        raise


def _render(export: Export, missing: list, *, run_id: str, last: bool) -> dict:
    """The call (one request of it), for a run that holds the video's lease, which then keeps
    its outputs for the copies."""
    export_id = str(export.pk)
    request = functools.partial(
        clips_api.process_clips,
        s3_key=export.video.s3_key,
        clips=[{"start": start, "end": end} for _, start, end in missing],
        prompt=export.video.prompt,
        target_language=export.target_language,
        aspect_ratio=export.aspect_ratio,
        subtitles=export.subtitles,
        subtitle_customization=subtitle_customization(export.subtitle_style),
    )
    # A retry after whatever cuts this step resumes the call (its URL kept before anything).
    processed = call_resumed(Export, export_id, run_id, request, api="process-clips", last=last)
    if isinstance(processed, clips_api.StillRunning):
        return {"waiting": True}
    # The call is over: nothing of it is still writing (a failure of the copies renders again).
    pending_call_forget(Export, export_id)
    _ensure_still_rendering(export_id, run_id)  # cancelled while the API worked: no copies
    outputs = []
    for index, start, end in missing:
        output = clips_api.rendered_for(processed, start=start, end=end)
        outputs.append([index, output["s3_key"] if output else ""])
    if not render_lease_renew(
        video_id=export.video_id,
        export_id=export_id,
        run_id=run_id,
        seconds=_copy_seconds(len(outputs)),
        outputs=outputs,
    ):
        raise RenderLeaseLost(export)
    return _rendered(outputs)


def _rendered(outputs: list) -> dict:
    rendered = sum(1 for _, key in outputs if key)
    return {
        "requested": len(outputs),
        "rendered": rendered,
        "failed": len(outputs) - rendered,
        "outputs": outputs,
    }


def _copy_seconds(count: int, *, then_wait: float = 0) -> float:
    """How long the lease must outlive the copies of `count` outputs (a head of each object,
    the copy, a head of the copy), and a wait before they are tried again."""
    per_request = settings.AWS_S3_CONNECT_TIMEOUT_SECONDS + settings.AWS_S3_READ_TIMEOUT_SECONDS
    return then_wait + 4 * count * per_request + LEASE_MARGIN_SECONDS


def copy_retry_delay(tried: int) -> int:
    """Seconds before the copies are tried again after try `tried` (0 first) found storage
    down: Inngest's own back-off table, as a retried step would wait."""
    return COPY_RETRY_DELAYS[min(tried, len(COPY_RETRY_DELAYS) - 1)]


def export_copy_rendered(
    *, export_id: str, run_id: str, outputs: list, tried: int, step: str, attempt: int
) -> dict:
    """Copy each output of this run's render (`outputs`, from `export_render`) to its key of
    the export (`Export.clip_key`) and keep the clips: a row per range, with the copy's key or
    its error (the answer lacked it, the store refused it). Returns `{"copied", "failed"}`.

    While storage is down, returns `{"retryIn": seconds, "error"}` after renewing the lease
    over that wait: the function sleeps, then tries again (try `tried` + 1), up to
    KORAI_COPY_RETRIES times; then the clips still to copy get the storage error. A copy that
    already holds its output's bytes is not made again.

    The video's render lease is held from the call to the last copy (renewed before copying,
    given back with the rows): the outputs are overwritten by the next render of the video.
    An export cancelled (or taken over) meanwhile keeps nothing: the copies this run made are
    deleted, no row is written (JobStopped). A lease lost meanwhile (it expired, another render
    took the video) keeps nothing either: those clips get that error."""
    export = Export.objects.select_related("video").filter(pk=as_uuid(export_id)).first()
    if export is None:
        raise JobError(f"export {export_id} was deleted while its clips were rendered")
    try:
        ensure_run(export, run_id)
        return _copy_and_keep(
            export, outputs, run_id=run_id, tried=tried, step=step, attempt=attempt
        )
    except (JobStopped, RenderLeaseLost):
        export_copies_drop(export=export, indexes=[index for index, _ in outputs], run_id=run_id)
        raise


def _copy_and_keep(
    export: Export, outputs: list, *, run_id: str, tried: int, step: str, attempt: int
) -> dict:
    export_id = str(export.pk)
    lease = {"video_id": export.video_id, "export_id": export_id, "run_id": run_id}
    outcomes = {}  # index in selected_ranges -> (kept key, error)
    if not render_lease_renew(**lease, seconds=_copy_seconds(len(outputs))):
        lost = str(RenderLeaseLost(export))
        outcomes = {index: ("", lost) for index, _ in outputs}
    for index, source in outputs:
        if index in outcomes:
            continue
        selected = export.selected_ranges[index]
        if not source:
            outcomes[index] = (
                "",
                "the processing API's answer has no clip for "
                f"{float(selected['start']):g}-{float(selected['end']):g}s",
            )
            continue
        try:
            storage.copy_unless_same(source, export.clip_key(index))
        except StorageUnavailable as err:
            if tried < settings.KORAI_COPY_RETRIES:
                return _copy_later(
                    export, len(outputs), err, tried=tried, step=step, attempt=attempt, lease=lease
                )
            outcomes.update(
                {
                    i: ("", f"the rendered clip could not be kept: {err}")
                    for i, _ in outputs
                    if i not in outcomes
                }
            )
            break
        except StorageError as err:
            outcomes[index] = ("", f"the rendered clip could not be kept: {err}")
            continue
        outcomes[index] = (export.clip_key(index), "")
    copied = sum(1 for key, _ in outcomes.values() if key)
    with transaction.atomic():
        # The export first, then its clips, in the same order as `export_finish`. Deleted or
        # cancelled while the copies were made: nothing is written, the copies are deleted.
        locked = _ensure_still_rendering(export_id, run_id, lock=True)
        # Given back with the rows: still ours, or the copies may hold another render's bytes.
        if not render_lease_release(**lease) and copied:
            raise RenderLeaseLost(export)
        for index, (key, error) in outcomes.items():
            _store(locked, locked.selected_ranges[index], s3_key=key, error=error)
        job_note(
            locked,
            step=step,
            attempt=attempt,
            detail=f"{copied} of {len(outputs)} clips rendered in one call and kept",
        )
        locked.save(update_fields=["timeline", "updated_at"])
    return {"copied": copied, "failed": len(outputs) - copied}


def _copy_later(export, count, err, *, tried, step, attempt, lease) -> dict:
    """Storage is down: keep the lease over the wait, note the failed try, and ask to be
    tried again after Inngest's back-off."""
    delay = copy_retry_delay(tried)
    render_lease_renew(**lease, seconds=_copy_seconds(count, then_wait=delay))
    job_step_failed(
        model=Export,
        job_id=str(export.pk),
        step=step,
        attempt=attempt,
        error=f"{err} (try {tried + 1} of {settings.KORAI_COPY_RETRIES + 1}; "
        f"trying again in {delay} s)",
    )
    return {"retryIn": delay, "error": str(err)}


def export_copies_drop(*, export: Export, indexes: list[int], run_id: str) -> None:
    """Delete the copies run `run_id` made for these ranges, which no row points at (its export
    was cancelled or deleted meanwhile, or its lease lost). Not while another run of the same
    export holds the video (a rerun): it copies to the same keys. Storage being down leaves
    them to `export_leftovers_delete`."""
    if render_lease_held_by_another_run(
        video_id=export.video_id, export_id=str(export.pk), run_id=run_id
    ):
        return
    kept = set(
        ExportedClip.objects.filter(export_id=export.pk)
        .exclude(s3_key="")
        .values_list("s3_key", flat=True)
    )
    keys = [export.clip_key(index) for index in indexes if export.clip_key(index) not in kept]
    with contextlib.suppress(StorageError):
        storage.delete_keys(keys)


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
    or the copies were made: the outputs may be that render's, so nothing is kept. The render
    step is retried (rendered again); the copy step deletes its copies and is retried, which
    then gives those clips this error."""

    def __init__(self, export: Export) -> None:
        super().__init__(
            f"the render lease of video {export.video_id} expired before the clips were kept: "
            "rendering again"
        )


def _ensure_still_rendering(export_id: str, run_id: str, *, lock: bool = False) -> Export:
    """The export, if run `run_id` still renders it: JobError if it was deleted meanwhile,
    JobStopped if it was cancelled or taken over by a newer run."""
    export = (
        _locked_for_clips(export_id)
        if lock
        else Export.objects.filter(pk=as_uuid(export_id)).first()
    )
    if export is None:
        raise JobError(f"export {export_id} was deleted while its clips were rendered")
    ensure_run(export, run_id)
    return export


def export_render_failed(*, export_id: str, step: str, attempt: int, error: str) -> None:
    """The render call failed for good (a refusal, or retries exhausted): every range still
    missing gets `error`, so the export can finish `partial` or `failed` with a reason per
    clip. Nothing is written to an export that is no longer being processed (cancelled)."""
    with transaction.atomic():
        export = _locked_for_clips(export_id)
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


def export_leftovers_delete(*, export_id: str) -> int:
    """Delete the objects under the export's folder that no row points at: copies of a run
    that ended (cancelled, failed) before keeping them. Not while the export is pending or
    processing, nor while one of its runs holds the video's lease: a run at work copies there.
    Returns how many were deleted; StorageUnavailable while storage is down (retried)."""
    export = Export.objects.filter(pk=as_uuid(export_id)).first()
    if export is None or export.status in lifecycle.ACTIVE:
        return 0
    if RenderLease.objects.filter(video_id=export.video_id, export_id=export.pk).exists():
        return 0
    kept = set(export.exported_clips.exclude(s3_key="").values_list("s3_key", flat=True))
    left = [key for key in storage.list_keys(export.storage_prefix) if key not in kept]
    storage.delete_keys(left)
    return len(left)


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


def _locked_for_clips(export_id: str) -> Export | None:
    """The export (None: deleted), locked for writing its clips (`_store`), after its video's
    row. `_store` counts a rendered clip on the video, and `video_delete` locks the video
    before its cascade reaches the export: taking the video first too, a step writing clips
    and a delete of the video queue on its row instead of each holding what the other waits
    for (a deadlock). FOR NO KEY UPDATE: new exports of the video (a key share) still go on."""
    export_pk = as_uuid(export_id)
    videos = Video.objects.select_for_update(no_key=True, of=("self",))
    videos.filter(exports=export_pk).values_list("pk").first()
    return Export.objects.select_for_update().filter(pk=export_pk).first()


def _store(export: Export, selected: dict, *, s3_key: str, error: str) -> ExportedClip:
    """Write one clip's outcome. The caller holds a transaction with the export locked by
    `_locked_for_clips` (so two writers of one clip take turns, and a delete of the video
    waits)."""
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
