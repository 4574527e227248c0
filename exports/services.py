"""Writes for exports that the API and the operators start: creating one, running it again."""

import math
import re

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction

from clips.models import Clip
from core.events import PROCESS_CANCELLED_EVENT, PROCESS_EVENT
from core.exceptions import ConflictError
from exports.languages import target_language_normalized
from exports.models import AspectRatio, Export
from exports.selectors import exports_stuck
from exports.subtitles import DEFAULT_SUBTITLE_CUSTOMIZATION
from jobs import lifecycle
from jobs.lifecycle import TransitionRefused
from jobs.reruns import JobKind
from outbox.services import event_record
from videos.models import Video

HEX_COLOUR = re.compile(r"#(?:[0-9A-Fa-f]{3}|[0-9A-Fa-f]{6})")
# Passed to the renderer as a font name: letters, digits, spaces and dashes only.
FONT_FAMILY = re.compile(r"[A-Za-z0-9][A-Za-z0-9 _-]{0,63}")


def _boolean(value) -> str | None:
    return None if isinstance(value, bool) else "Must be true or false."


def _hex_colour(value, *, nullable: bool = False) -> str | None:
    if value is None and nullable:
        return None
    if isinstance(value, str) and HEX_COLOUR.fullmatch(value):
        return None
    return "Must be a hex colour like #FFFFFF" + (" or null." if nullable else ".")


def _number(low: float, high: float, *, integer: bool = False):
    """The processing API declares these fields `int` or `float` (pydantic): an integer field
    takes only a JSON integer (not 120.0, not true), a number field any finite number."""

    def check(value) -> str | None:
        kind = "a whole number" if integer else "a number"
        allowed = int if integer else int | float
        # bool is an int subclass; NaN and infinities fail the range check, and comparing
        # keeps a huge integer exact (converting it to float would overflow).
        if isinstance(value, bool) or not isinstance(value, allowed) or not low <= value <= high:
            return f"Must be {kind} from {low:g} to {high:g}."
        return None

    check.integer = integer
    return check


def _choice(*options: str):
    def check(value) -> str | None:
        return None if value in options else f"Must be one of: {', '.join(options)}."

    return check


def _font_family(value) -> str | None:
    if isinstance(value, str) and FONT_FAMILY.fullmatch(value):
        return None
    return "Must be a font name (letters, digits, spaces, dashes; at most 64 characters)."


# One rule per key of DEFAULT_SUBTITLE_CUSTOMIZATION; a key without a rule cannot be overridden.
SUBTITLE_STYLE_RULES = {
    "enabled": _boolean,
    "position": _choice("top", "middle", "bottom"),
    "font_size": _number(8, 400, integer=True),
    "font_family": _font_family,
    "font_color": _hex_colour,
    "outline_color": _hex_colour,
    "outline_width": _number(0, 20),
    "background_color": lambda value: _hex_colour(value, nullable=True),
    "background_opacity": _number(0, 1),
    "shadow_enabled": _boolean,
    "shadow_color": _hex_colour,
    "shadow_offset": _number(0, 50),
    "max_words_per_line": _number(1, 20, integer=True),
    "margin_horizontal": _number(0, 2000, integer=True),
    "margin_vertical": _number(0, 2000, integer=True),
    "fade_in_duration": _number(0, 10),
    "fade_out_duration": _number(0, 10),
    "karaoke_enabled": _boolean,
    "karaoke_highlight_color": _hex_colour,
    "karaoke_popup_scale": _number(0.5, 3),
}


def subtitle_style_errors(style: dict) -> dict[str, list[str]]:
    """Per-key problems of a `subtitle_style` override (empty when it is valid): every key must
    be one of the default customization's and hold a valid value."""
    errors = {}
    for key, value in style.items():
        rule = SUBTITLE_STYLE_RULES.get(key)
        if rule is None or key not in DEFAULT_SUBTITLE_CUSTOMIZATION:
            errors[key] = ["Unknown subtitle setting."]
        elif (problem := rule(value)) is not None:
            errors[key] = [problem]
    return errors


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
) -> Export:
    """Record an export of the video's clips (`clip_ids`) or of custom ranges (`clips`:
    [{"start", "end"}] in seconds) and its `clips/process` event, in one transaction; the event
    is sent after commit. Only a completed video can be exported (ConflictError otherwise)."""
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

    export = Export.objects.create(
        video=video,
        owner=owner,
        selected_ranges=ranges,
        aspect_ratio=aspect_ratio,
        target_language=target_language,
        subtitles=subtitles,
        subtitle_style=subtitle_style,
    )
    _record_process_event(export, video=video)
    return export


@transaction.atomic
def export_rerun(*, export: Export) -> Export:
    """Run a failed, partial, cancelled or stuck export again: back to `pending` with a new
    event (a new event id, so a new Inngest run). Rendered clips are kept and skipped by the
    new run, which renders only the missing ones; a completed export has nothing to run
    again."""
    export = Export.objects.select_for_update().select_related("video").get(pk=export.pk)
    try:
        lifecycle.transition(export, Export.Status.PENDING, step="run-again")
    except TransitionRefused:
        raise ConflictError(
            f"This export is {export.status}; there is nothing to run again.",
            code="export_finished",
        ) from None
    export.save()
    _record_process_event(export, video=export.video)
    return export


@transaction.atomic
def export_cancel(*, export: Export) -> Export:
    """Cancel a pending or processing export: `cancelled` now, and a `clips/process.cancelled`
    event (sent after commit) that cancels its Inngest run. Clips rendered before (by an earlier
    run of a partial export) are kept; a render call that ends after the cancel keeps nothing
    (exports.jobs.export_render). ConflictError if the export is already final."""
    export = Export.objects.select_for_update().get(pk=export.pk)
    try:
        lifecycle.transition(export, Export.Status.CANCELLED, step="cancel")
    except TransitionRefused:
        raise ConflictError(
            f"This export is {export.status}: only a pending or processing export can be "
            "cancelled.",
            code="export_final",
        ) from None
    export.save()
    event_record(
        name=PROCESS_CANCELLED_EVENT,
        data={"exportId": str(export.pk), "videoId": str(export.video_id)},
        job=export,
    )
    return export


def _record_process_event(export: Export, *, video: Video) -> None:
    event_record(
        name=PROCESS_EVENT,
        data={
            "exportId": str(export.pk),
            "videoId": str(video.pk),
            "s3Key": video.s3_key,
            "selectedClips": [
                {"start": r["start"], "end": r["end"]} for r in export.selected_ranges
            ],
            "targetLanguage": export.target_language,
            "aspectRatio": export.aspect_ratio,
            "userId": str(export.owner_id),
        },
        job=export,
    )


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


# How the reruns (`resend_events`, the admin) treat exports: a partial one failed for some
# clips, and running it again renders only those.
EXPORT_JOB = JobKind(
    model=Export,
    rerun=lambda export: export_rerun(export=export),
    stuck=exports_stuck,
    failed_statuses=frozenset({lifecycle.FAILED, lifecycle.PARTIAL}),
)
