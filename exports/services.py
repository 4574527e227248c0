"""Writes for exports: what the API and the operators start (create, run again, cancel) and what
the steps of the `process-clips` function call (start, render, finish, fail).

Each step-side service is safe to run twice: Inngest may deliver a step again after its writes
committed, and a rerun of a partial export must not render again the clips that already
succeeded."""

import math
import uuid

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import QuerySet

from clips.models import Clip
from core.events import PROCESS_CANCELLED_EVENT, PROCESS_EVENT
from core.exceptions import ConflictError
from exports.languages import target_language_normalized
from exports.leases import render_lease_release
from exports.models import AspectRatio, Export, ExportedClip
from exports.selection import export_selection
from exports.selectors import exports_stuck
from exports.subtitles import subtitle_style_errors
from jobs import lifecycle
from jobs.records import (
    JobError,
    as_uuid,
    job_cancel,
    job_rerun,
    job_start,
    job_triggered,
    user_for_event,
)
from jobs.reruns import JobKind
from outbox.services import event_record
from videos.models import Video

# Fixed namespace: the export created for an event in the original Next.js app's shape (no
# exportId) gets the same id every time the event is delivered.
_EVENT_EXPORT_NAMESPACE = uuid.UUID("3f0b8e52-91c4-4d7a-8a3e-6b5d2c1f0e94")


def export_id_for_event(event_id: str) -> uuid.UUID:
    return uuid.uuid5(_EVENT_EXPORT_NAMESPACE, f"clips/process:{event_id}")


@transaction.atomic
def export_create(
    *,
    video: Video,
    owner,
    aspect_ratio: str,
    clip_ids: list | None = None,
    clips: list[dict] | None = None,
    target_language: str | None = None,
    subtitles: bool = True,
    subtitle_style: dict | None = None,
    from_event: str = "",
) -> Export:
    """Record an export of the video's clips (`clip_ids`) or of custom ranges (`clips`:
    [{"start", "end"}] in seconds) and its `clips/process` event, in one transaction; the event
    is sent after commit. Only a completed video can be exported (ConflictError otherwise).

    `from_event` is the id of an event in the original Next.js app's shape (no exportId) whose
    run is creating this export: the export's id is derived from it, so every delivery of that
    event finds the same export, and no event is recorded (that run is already under way)."""
    if from_event:
        existing = Export.objects.filter(pk=export_id_for_event(from_event)).first()
        if existing is not None:
            return existing
    if video.owner_id != owner.pk:
        raise ValueError("An export is made by the video's owner.")
    if video.status != Video.Status.COMPLETED:
        raise ConflictError(
            f"This video is {video.status}: clips can be exported once its "
            "identification has completed.",
            code="video_not_ready",
        )
    subtitle_style = subtitle_style or {}
    errors: dict[str, list[str]] = {}
    if aspect_ratio not in AspectRatio.values:
        errors["aspect_ratio"] = [f"Must be one of: {', '.join(AspectRatio.values)}."]
    try:
        target_language = target_language_normalized(target_language)
    except ValidationError as err:
        errors["target_language"] = err.messages
    for key, messages in subtitle_style_errors(subtitle_style).items():
        # A path: the API answers it nested, as {"subtitle_style": {key: messages}}.
        errors[f"subtitle_style.{key}"] = messages
    ranges, range_errors = _selected_ranges(video=video, clip_ids=clip_ids, clips=clips)
    errors.update(range_errors)
    if errors:
        raise ValidationError(errors)

    try:
        with transaction.atomic():  # a savepoint: a lost race leaves this transaction usable
            export = Export.objects.create(
                id=export_id_for_event(from_event) if from_event else uuid.uuid4(),
                # The event under way works on it; Korai's own exports get theirs below.
                run_event_id=from_event,
                video=video,
                owner=owner,
                selected_ranges=ranges,
                aspect_ratio=aspect_ratio,
                target_language=target_language,
                subtitles=subtitles,
                subtitle_style=subtitle_style,
            )
    except IntegrityError:
        if not from_event:
            raise
        return Export.objects.get(pk=export_id_for_event(from_event))  # another delivery won
    if not from_event:
        _record_process_event(export)
    return export


def export_rerun(*, export: Export, only_if: QuerySet | None = None) -> Export:
    """Run a failed, partial, cancelled or stuck export again: back to `pending` with a new
    event (a new event id, so a new Inngest run). Rendered clips are kept and skipped by the
    new run, which renders only the missing ones; a completed export has nothing to run
    again."""
    return job_rerun(
        export,
        only_if=only_if,
        record_event=_record_process_event,
        refused=lambda export: ConflictError(
            f"This export is {export.status}; there is nothing to run again.",
            code="export_finished",
        ),
    )


def export_cancel(*, export: Export) -> Export:
    """Cancel a pending or processing export: `cancelled` now, and a `clips/process.cancelled`
    event (sent after commit) that cancels its Inngest run. Clips rendered before (by an earlier
    run of a partial export) are kept; a render call that ends after the cancel keeps nothing
    (`export_render`). ConflictError if the export is already final.

    The video's render lease is given back too, unless its processing call may still be
    writing (`exports.leases`): then its render, or the lease's expiry, frees it."""
    with transaction.atomic():
        export = job_cancel(
            export,
            record_event=lambda export: event_record(
                name=PROCESS_CANCELLED_EVENT,
                # The run to cancel: its event's id (the function's cancel rule matches on it).
                data={
                    "exportId": str(export.pk),
                    "videoId": str(export.video_id),
                    "runEventId": export.run_event_id,
                },
                job=export,
            ),
            refused=lambda export: ConflictError(
                f"This export is {export.status}: only a pending or processing export can be "
                "cancelled.",
                code="export_final",
            ),
        )
        render_lease_release(video_id=export.video_id, export_id=str(export.pk))
    return export


def process_event(export: Export) -> dict:
    """The `clips/process` event that starts the export's render (its name and data, as the
    outbox records and sends it)."""
    return {
        "name": PROCESS_EVENT,
        "data": {
            "exportId": str(export.pk),
            "videoId": str(export.video_id),
            "s3Key": export.video.s3_key,
            "selectedClips": [
                {"start": r["start"], "end": r["end"]} for r in export.selected_ranges
            ],
            "targetLanguage": export.target_language,
            "aspectRatio": export.aspect_ratio,
            "userId": str(export.owner_id),
        },
    }


def _record_process_event(export: Export) -> None:
    job_triggered(export, event_record(**process_event(export), job=export))


def _selected_ranges(*, video: Video, clip_ids, clips) -> tuple[list[dict], dict]:
    """[{"start", "end", "clip_id"}] in the order asked for, and the errors per field."""
    if (clip_ids is None) == (clips is None):
        return [], {"non_field_errors": ["Give either clip_ids or clips (custom ranges)."]}
    field, items = ("clip_ids", clip_ids) if clip_ids is not None else ("clips", clips)
    limit = settings.KORAI_EXPORT_MAX_CLIPS
    if not items:
        return [], {field: ["Choose at least one clip."]}
    if len(items) > limit:
        return [], {field: [f"At most {limit} clips per export."]}

    if clip_ids is not None:
        wanted = [str(pk) for pk in clip_ids]
        if len(set(wanted)) != len(wanted):
            return [], {"clip_ids": ["A clip is listed twice."]}
        found = {
            str(pk): (start, end)
            for pk, start, end in Clip.objects.filter(video=video, pk__in=wanted).values_list(
                "pk", "start", "end"
            )
        }
        missing = [pk for pk in wanted if pk not in found]
        if missing:
            return [], {"clip_ids": [f"Not clips of this video: {', '.join(missing)}."]}
        return [{"start": found[pk][0], "end": found[pk][1], "clip_id": pk} for pk in wanted], {}

    max_seconds = settings.KORAI_EXPORT_MAX_CLIP_SECONDS
    ranges, problems, seen = [], [], set()
    for index, item in enumerate(clips):
        start, end = _seconds(item, "start"), _seconds(item, "end")
        if start is None or end is None:
            problems.append(f"Clip {index + 1}: start and end must be numbers of seconds.")
        elif start < 0 or start >= end:
            problems.append(f"Clip {index + 1}: start must be at least 0 and before end.")
        elif end - start > max_seconds:
            problems.append(f"Clip {index + 1}: at most {max_seconds:g} seconds long.")
        # The service reports 0 when it could not measure the video: unknown, not a bound.
        elif video.duration_seconds and end > video.duration_seconds:
            problems.append(
                f"Clip {index + 1}: ends after the video ({video.duration_seconds:g} s)."
            )
        elif (start, end) in seen:
            problems.append(f"Clip {index + 1}: the same range is listed twice.")
        else:
            seen.add((start, end))
            ranges.append({"start": start, "end": end, "clip_id": None})
    return ranges, ({"clips": problems} if problems else {})


def _seconds(item, key: str) -> float | None:
    value = item.get(key) if isinstance(item, dict) else None
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    try:
        seconds = float(value)
    except OverflowError:  # an integer too large for a float
        return None
    return seconds if math.isfinite(seconds) else None


# --- What the steps of process-clips call -------------------------------------------------------


def export_start_for_event(*, event_id: str, data: dict, run_id: str, attempt: int) -> Export:
    """Start the export of a `clips/process` event for run `run_id`. An event in the original
    Next.js app's shape (`{videoId, selectedClips, aspectRatio, targetLanguage, userId}`, no
    exportId) first becomes an export through `export_create`, with the API's validation and
    its messages; its clips are chosen as the original client chose them (`export_selection`)."""
    export_id = data.get("exportId")
    if not export_id:
        owner = user_for_event(data.get("userId"))
        video = Video.objects.filter(pk=as_uuid(data.get("videoId")), owner=owner).first()
        if video is None:
            raise JobError(f"video {data.get('videoId')} of user {owner.pk} does not exist")
        selected = data.get("selectedClips")
        try:
            export_id = export_create(
                video=video,
                owner=owner,
                aspect_ratio=str(data.get("aspectRatio") or ""),
                target_language=data.get("targetLanguage"),
                from_event=event_id,
                **export_selection(
                    video=video, selected_clips=selected if isinstance(selected, list) else []
                ),
            ).pk
        except ValidationError as err:
            raise JobError.invalid(err) from None
        except ConflictError as err:
            raise JobError(err.message) from None
    return job_start(
        model=Export,
        job_id=str(export_id),
        run_id=run_id,
        event_id=event_id,
        step="create-export-record",
        attempt=attempt,
    )


def export_failed_status(export: Export) -> str:
    """How an export whose run gave up ends: `partial` if some of its clips were rendered (they
    stay stored), else `failed`."""
    rendered = ExportedClip.objects.filter(export=export).exclude(s3_key="").exists()
    return Export.Status.PARTIAL if rendered else Export.Status.FAILED


# How the reruns (`resend_events`, the admin) treat exports: a partial one failed for some
# clips, and running it again renders only those.
EXPORT_JOB = JobKind(
    model=Export,
    rerun=lambda export, only_if=None: export_rerun(export=export, only_if=only_if),
    stuck=exports_stuck,
    failed_statuses=frozenset({lifecycle.FAILED, lifecycle.PARTIAL}),
    failed_status=export_failed_status,
)
