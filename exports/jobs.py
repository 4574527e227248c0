"""Step-side services of an export (the `process-clips` function): start it, render one clip,
store the outcome, fail it.

Each is safe to run twice: Inngest may deliver a step again after its writes committed, and a
rerun of a partial export must not render again the clips that already succeeded."""

import math
import uuid

from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from clips.models import Clip
from core import clips_api
from core.jobs import (
    JobError,
    as_uuid,
    job_begin_run,
    job_fail,
    job_note,
    job_step_failed,
    lock,
    truncate_error,
    user_pk,
)
from exports.languages import target_language_normalized
from exports.models import AspectRatio, Export, ExportedClip
from exports.subtitles import subtitle_customization
from outbox.selectors import event_superseded
from videos.models import Video

_EVENT_EXPORT_NAMESPACE = uuid.UUID("3f0b8e52-91c4-4d7a-8a3e-6b5d2c1f0e94")


def export_id_for_event(event_id: str) -> uuid.UUID:
    return uuid.uuid5(_EVENT_EXPORT_NAMESPACE, f"clips/process:{event_id}")


@transaction.atomic
def export_start(*, export_id: str, run_id: str, attempt: int) -> Export:
    """Mark the export `processing` by run `run_id`; a `completed` export is left as it is."""
    export = lock(Export, export_id)
    if export.status == Export.Status.COMPLETED:
        return export
    export.status = Export.Status.PROCESSING
    job_begin_run(export, run_id=run_id, step="create-export-record", attempt=attempt)
    export.save()
    return export


@transaction.atomic
def export_create_for_event(
    *,
    event_id: str,
    owner_id: str,
    video_id: str,
    selected_clips: object,
    aspect_ratio: object,
    target_language: object,
    run_id: str,
    attempt: int,
) -> Export:
    """The seed's event shape carries no exportId: create the export (id derived from the event
    id), or find the one an earlier delivery created, and start it. Ranges may be numeric
    strings, as the seed's web client sent them."""
    export_id = export_id_for_event(event_id)
    if not Export.objects.filter(pk=export_id).exists():
        owner = get_user_model().objects.filter(pk=user_pk(owner_id)).first()
        video = Video.objects.filter(pk=as_uuid(video_id), owner=owner).first()
        if owner is None or video is None:
            raise JobError(f"video {video_id} of user {owner_id!r} does not exist")
        if aspect_ratio not in AspectRatio.values:
            raise JobError(f"aspectRatio {aspect_ratio!r} is not one of {AspectRatio.values}")
        try:
            target_language = target_language_normalized(target_language)
        except ValidationError as err:
            problem = " ".join(err.messages)
            raise JobError(f"targetLanguage {target_language!r}: {problem}") from None
        Export.objects.get_or_create(
            pk=export_id,
            defaults={
                "video": video,
                "owner": owner,
                "selected_ranges": _ranges(selected_clips),
                "aspect_ratio": aspect_ratio,
                "target_language": target_language,
            },
        )
    return export_start(export_id=str(export_id), run_id=run_id, attempt=attempt)


def export_clip_range(*, export_id: str, index: int) -> tuple[float, float]:
    export = Export.objects.filter(pk=as_uuid(export_id)).only("selected_ranges").first()
    if export is None:
        raise JobError(f"export {export_id} does not exist")
    selected = export.selected_ranges[index]
    return float(selected["start"]), float(selected["end"])


def export_clip_process(*, export_id: str, index: int, step: str, attempt: int) -> dict:
    """Render the export's `index`-th range, unless an earlier run already did: returns
    `{"start", "end", "s3_key"}` and stores it at once, so a later rerun skips it. The render
    is noted on the export's timeline as `step`, which also moves its `updated_at`: a long
    export that keeps rendering never looks stuck.

    Raises what `core.clips_api.process_clip` raises (the caller decides what a failure
    means); no transaction is held while the API works."""
    export = Export.objects.select_related("video").filter(pk=as_uuid(export_id)).first()
    if export is None:
        raise JobError(f"export {export_id} does not exist")
    selected = export.selected_ranges[index]
    start, end = float(selected["start"]), float(selected["end"])
    done = ExportedClip.objects.filter(export=export, start=start, end=end).exclude(s3_key="")
    if existing := done.first():
        return {"start": start, "end": end, "s3_key": existing.s3_key}
    rendered = clips_api.process_clip(
        s3_key=export.video.s3_key,
        start=start,
        end=end,
        prompt=export.video.prompt,
        target_language=export.target_language,
        aspect_ratio=export.aspect_ratio,
        subtitles=export.subtitles,
        subtitle_customization=subtitle_customization(export.subtitle_style),
    )
    with transaction.atomic():
        # The export first, then its clip, in the same order as `exported_clips_save`.
        locked = lock(Export, export_id)
        _store(locked, selected, s3_key=rendered["s3_key"], error="")
        job_note(locked, step=step, attempt=attempt, detail=f"{start:g}-{end:g}s rendered")
        locked.save(update_fields=["timeline", "updated_at"])
    return rendered


@transaction.atomic
def exported_clips_save(*, export_id: str, results: list[dict], attempt: int) -> Export:
    """Store every clip's outcome (`{"start", "end", "s3_key"}` or `{"start", "end", "error"}`)
    and finish the export: `completed` (all rendered), `partial` (some) or `failed` (none).
    A recorded failure never replaces a clip that was rendered."""
    export = lock(Export, export_id)
    by_range = {(float(r["start"]), float(r["end"])): r for r in export.selected_ranges}
    for result in results:
        selected = by_range.get((float(result["start"]), float(result["end"])))
        if selected is None:
            raise JobError(f"{result['start']}-{result['end']}s is not a range of this export")
        _store(export, selected, s3_key=result.get("s3_key", ""), error=result.get("error", ""))

    rendered = {(c.start, c.end): c for c in export.exported_clips.all()}
    failures = [
        f"{s:g}-{e:g}s: {rendered[(s, e)].error if (s, e) in rendered else 'not processed'}"
        for (s, e) in by_range
        if not ((s, e) in rendered and rendered[(s, e)].succeeded)
    ]
    if not failures:
        export.status = Export.Status.COMPLETED
        export.last_error = ""
    else:
        export.status = (
            Export.Status.FAILED if len(failures) == len(by_range) else Export.Status.PARTIAL
        )
        export.last_error = truncate_error(
            f"{len(failures)} of {len(by_range)} clips failed. " + "; ".join(failures)
        )
    export.finished_at = timezone.now()
    job_note(
        export,
        step="save-exported-clips-to-database",
        attempt=attempt,
        detail=f"{len(by_range) - len(failures)} of {len(by_range)} clips rendered",
    )
    export.save()
    return export


def export_step_failed(*, export_id: str, step: str, attempt: int, error: str) -> None:
    job_step_failed(model=Export, job_id=export_id, step=step, attempt=attempt, error=error)


def export_fail(*, export_id: str, run_id: str, event_id: str, error: str) -> Export | None:
    """Finish the export with the error after its run gave up: `partial` if some of its clips
    were rendered (they stay stored), else `failed`. Ignored when a newer run or a rerun's
    event (see `core.jobs.job_fail`) took over, or when it already finished."""
    return job_fail(
        model=Export,
        job_id=export_id,
        run_id=run_id,
        superseded=lambda: bool(event_id) and event_superseded(event_id=event_id),
        error=error,
        status_field="status",
        failed=_failed_status,
        final=(Export.Status.COMPLETED, Export.Status.PARTIAL, Export.Status.FAILED),
    )


def _failed_status(export: Export) -> str:
    rendered = ExportedClip.objects.filter(export=export).exclude(s3_key="").exists()
    return Export.Status.PARTIAL if rendered else Export.Status.FAILED


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


def _ranges(selected_clips: object) -> list[dict]:
    if not isinstance(selected_clips, list) or not selected_clips:
        raise JobError("selectedClips must be a non-empty list of {start, end}")
    ranges = []
    for i, clip in enumerate(selected_clips):
        try:
            start, end = float(clip["start"]), float(clip["end"])
        except (TypeError, KeyError, ValueError):
            raise JobError(f"selectedClips[{i}] must have numeric start and end") from None
        if not (math.isfinite(end) and 0 <= start < end):
            raise JobError(f"selectedClips[{i}]: start must be >= 0 and before end")
        if any(r["start"] == start and r["end"] == end for r in ranges):
            raise JobError(f"selectedClips[{i}] repeats the range {start:g}-{end:g}s")
        ranges.append({"start": start, "end": end, "clip_id": None})
    return ranges
