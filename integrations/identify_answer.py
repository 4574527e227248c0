"""Reading an answer of the identify-clips API, which is raw LLM output.

What the real service does (`identify_clips` in `py-server/main.py` of the original Korai app):
- `identified_clips` is whatever JSON list its LLM wrote, parsed after stripping a ```json fence
  and never checked: a clip may lack a field, have `start >= end`, repeat another clip, give its
  times as numbers, numeric strings, "MM:SS" or "HH:MM:SS", and `related_topics` as one string.
  When the LLM's text is not a JSON list the service answers an empty list.
- `virality_score` is asked for as an integer 0-10 (one point per criterion met).
- `total_clips` is `len(identified_clips)`: an integer that counts the broken clips too.
- `video_duration` is ffprobe's seconds, or 0 when ffprobe failed: 0 means unknown.
- `s3_path` is the bare key the source video was uploaded to (the request's `s3_key_yt`).
- `detected_language` is WhisperX's language code ("en").

So the reading is lenient clip by clip and strict about the whole: every usable clip is kept,
each unusable one is dropped with its reason (the caller writes them on the video's timeline),
and only an answer with nothing usable in it raises `IdentifyAnswerUnusable`.
"""

import json
import math
import re

TITLE_MAX_CHARS = 500
LANGUAGE_MAX_CHARS = 16
S3_PATH_MAX_CHARS = 1024
VIRALITY_MAX = 10
# The dropped clips named one by one on the timeline; the rest are counted.
DROPPED_LISTED_MAX = 20

# [HH:]MM:SS with optional fractions ("1:02:03.5", "12:30", "12:30,25"): hours and minutes are
# whole, seconds (and minutes, when there are hours) below 60.
_CLOCK = re.compile(r"(?:(\d+):)?(\d+):(\d{1,2}(?:[.,]\d+)?)")
_SCORE_OUT_OF_TEN = re.compile(r"(\d+(?:\.\d+)?)\s*/\s*10")


class IdentifyAnswerUnusable(ValueError):
    """The answer as a whole cannot be used: not an object, no clip list, or no usable clip."""


def read_identify_answer(payload: object) -> dict:
    """The answer as plain JSON: `{"total_clips", "video_duration", "detected_language",
    "s3_path", "identified_clips": [{"start", "end", "title", "summary", "virality_score",
    "related_topics", "transcript"}], "dropped": [{"index", "reason"}]}`.

    `total_clips` is what the service reported (its count includes broken clips);
    `video_duration` is None when unknown; `index` is a dropped clip's position in the answer."""
    if not isinstance(payload, dict):
        raise IdentifyAnswerUnusable(f"the answer is not a JSON object but {_kind(payload)}")
    raw_clips = payload.get("identified_clips")
    if not isinstance(raw_clips, list):
        raise IdentifyAnswerUnusable(
            f"identified_clips is not a list but {_kind(raw_clips)}"
            if "identified_clips" in payload
            else "the answer has no identified_clips"
        )
    if not raw_clips:
        raise IdentifyAnswerUnusable(
            "identified_clips is empty (the service answers so when its LLM's output could not "
            "be read)"
        )

    clips: list[dict] = []
    dropped: list[dict] = []
    kept_at: dict[tuple[float, float], int] = {}
    for index, raw in enumerate(raw_clips):
        clip, reason = _read_clip(raw)
        if clip is not None and (clip["start"], clip["end"]) in kept_at:
            first = kept_at[(clip["start"], clip["end"])]
            clip, reason = None, f"repeats clip {first + 1} ({_range(clip['start'], clip['end'])})"
        if clip is None:
            dropped.append({"index": index, "reason": reason})
            continue
        kept_at[(clip["start"], clip["end"])] = index
        clips.append(clip)
    if not clips:
        raise IdentifyAnswerUnusable(
            f"none of its {len(raw_clips)} clips is usable: {dropped_summary(dropped)}"
        )

    total = _whole_number(payload.get("total_clips"))
    duration = parse_seconds(payload.get("video_duration"))
    return {
        "total_clips": total if total is not None else len(raw_clips),
        "video_duration": duration or None,  # 0: the service could not measure it
        "detected_language": _text(payload.get("detected_language"))[:LANGUAGE_MAX_CHARS],
        "s3_path": bare_s3_key(_text(payload.get("s3_path")))[:S3_PATH_MAX_CHARS],
        "identified_clips": clips,
        "dropped": dropped,
    }


def dropped_summary(dropped: list[dict]) -> str:
    """ "clip 6: no end; clip 7: starts (95 s) at or after it ends (65 s); …" for the timeline
    (clips numbered from 1 in the answer's order)."""
    listed = [f"clip {d['index'] + 1}: {d['reason']}" for d in dropped[:DROPPED_LISTED_MAX]]
    if len(dropped) > DROPPED_LISTED_MAX:
        listed.append(f"and {len(dropped) - DROPPED_LISTED_MAX} more")
    return "; ".join(listed)


def parse_seconds(value: object) -> float | None:
    """Seconds from a number, a numeric string, "MM:SS" or "HH:MM:SS"; None if it is none of
    these or negative."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return _finite_non_negative(value)
    if not isinstance(value, str):
        return None
    text = value.strip()
    match = _CLOCK.fullmatch(text)
    if match is None:
        try:
            return _finite_non_negative(float(text))
        except ValueError:
            return None
    hours, minutes, seconds = match.groups()
    seconds = float(seconds.replace(",", "."))
    if seconds >= 60 or (hours is not None and int(minutes) >= 60):
        return None
    return int(hours or 0) * 3600 + int(minutes) * 60 + seconds


def virality_score(value: object) -> int:
    """An integer 0-10. Fractions are rounded; "7/10" is 7; a score above 10 and at most 100 is
    read as a percentage (85 -> 9), anything larger is 10; missing or unreadable is 0."""
    if isinstance(value, str) and (match := _SCORE_OUT_OF_TEN.fullmatch(value.strip())):
        value = match.group(1)
    if isinstance(value, bool):
        return 0
    try:
        score = float(value)
    except (TypeError, ValueError, OverflowError):
        return 0
    if not math.isfinite(score) or score <= 0:
        return VIRALITY_MAX if score == math.inf else 0
    if score > VIRALITY_MAX:
        score = score / 10 if score <= 100 else VIRALITY_MAX
    return min(VIRALITY_MAX, math.floor(score + 0.5))


def related_topics(value: object) -> list[str]:
    """A list of non-empty strings: a list is cleaned, a string is split on commas (or read as
    the JSON list it spells), anything else is no topics."""
    if isinstance(value, str):
        text = value.strip()
        if text.startswith("["):
            try:
                return related_topics(json.loads(text))
            except ValueError:
                text = text.strip("[]")
        value = text.split(",")
    if not isinstance(value, list):
        return []
    topics = (_text(item).strip().strip("\"'#").strip() for item in value)
    return [topic for topic in topics if topic]


def bare_s3_key(path: str) -> str:
    """`s3://bucket/key` -> `key`; a bare key is returned as it is, as the real service sends it."""
    path = path.strip()
    if path.startswith("s3://"):
        return path.removeprefix("s3://").partition("/")[2]
    return path


def _read_clip(raw: object) -> tuple[dict | None, str]:
    """(the clip, "") or (None, why it is dropped)."""
    if not isinstance(raw, dict):
        return None, f"not an object but {_kind(raw)}"
    times = {}
    for name in ("start", "end"):
        value = raw.get(name)
        if value is None or value == "":
            return None, f"no {name}"
        times[name] = parse_seconds(value)
        if times[name] is None:
            return None, f"{name} {_excerpt(value)} is not a time"
    start, end = times["start"], times["end"]
    if start >= end:
        return None, f"starts ({start:g} s) at or after it ends ({end:g} s)"
    return {
        "start": start,
        "end": end,
        "title": _text(raw.get("title")).strip()[:TITLE_MAX_CHARS],
        "summary": _text(raw.get("summary")),
        "virality_score": virality_score(raw.get("virality_score")),
        "related_topics": related_topics(raw.get("related_topics")),
        "transcript": _text(raw.get("transcript")),
    }, ""


def _finite_non_negative(number: float) -> float | None:
    try:
        number = float(number)
    except OverflowError:
        return None
    return number if math.isfinite(number) and number >= 0 else None


def _whole_number(value: object) -> int | None:
    if isinstance(value, bool):
        return None
    try:
        number = float(value)
    except (TypeError, ValueError, OverflowError):
        return None
    return int(number) if math.isfinite(number) and number >= 0 and number.is_integer() else None


def _text(value: object) -> str:
    """Text fields as text: a number or a list the LLM put there is written out, null is ""."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, list):
        return " ".join(_text(item) for item in value)
    return json.dumps(value) if isinstance(value, dict) else str(value)


def _range(start: float, end: float) -> str:
    return f"{start:g}-{end:g} s"


def _kind(value: object) -> str:
    return "null" if value is None else type(value).__name__


def _excerpt(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:39] + "…"
