"""Which clips an export renders when they are chosen as the original Next.js app chooses them:
`{start, end}` pairs (numbers, or the strings its client was given), from its client's
process route or in its `clips/process` event. A
pair that is one of the video's clips is exported as that clip; when any pair is not, they are
all exported as custom ranges (the export service takes one kind or the other), and the service
checks them as it checks any custom range."""

import math

from videos.models import Video
from videos.selectors import clips_for_video


def export_selection(*, video: Video, selected_clips: list) -> dict:
    """`clip_ids=[…]` or `clips=[{start, end}]` for `exports.services.export_create`."""
    ranges = [_range(item) for item in selected_clips]
    by_range = {
        (start, end): pk
        for pk, start, end in clips_for_video(video=video).values_list("pk", "start", "end")
    }
    clip_ids = [by_range.get(r) for r in ranges]
    if clip_ids and all(clip_ids):
        return {"clip_ids": clip_ids}
    return {"clips": [{"start": start, "end": end} for start, end in ranges]}


def _range(item) -> tuple:
    if not isinstance(item, dict):
        return (None, None)
    return (_seconds(item.get("start")), _seconds(item.get("end")))


def _seconds(value) -> float | None:
    """A number, or a number as text ("154.623"); None for anything else (the service then
    says which clip is wrong)."""
    if isinstance(value, bool):
        return None
    if isinstance(value, str):
        try:
            value = float(value.strip())
        except ValueError:
            return None
    if not isinstance(value, int | float) or not math.isfinite(value):
        return None
    return float(value)
