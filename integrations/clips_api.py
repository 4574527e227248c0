"""Client for the two external clips APIs: identify a video's clips, render an export's clips.

Every failure is classified where it happens, in the client's own exceptions (`ClipsApiError`
and its kinds); `jobs.steps` turns them into what Inngest does next:

- connection errors, timeouts and 5xx raise `ClipsApiUnavailable`: worth retrying;
- `429`/`503` with a usable `Retry-After` raise `ClipsApiRetryAfter`, which carries the delay;
- any other status (4xx), and a missing URL setting, raise `ClipsApiRefused`; an answer that is
  not what the contract promises raises `ClipsApiMalformed`. Both name the status or the
  offending field: retrying cannot help.

When the primary URL fails in a retriable way and a fallback URL is configured, the fallback is
tried once before giving up on the attempt.

A call that runs past one redirect interval (CLIPS_API_REDIRECT_INTERVAL_SECONDS; 150 s on
Modal, where the real service runs) is answered `303 See Other` to a result URL; a GET of it
waits one interval more and answers the result or `303` again. Each public call sends ONE
request and returns `StillRunning(result_url)` on a `303`, never following it: the caller keeps
the URL where a retry finds it (jobs/calls.py) and calls again with `result_url`, which GETs the
result and never starts (or pays for) a new run. So no request outlasts one interval plus
`REQUEST_MARGIN_SECONDS`. Identification answers are raw LLM output, read leniently by
`integrations.identify_answer` (what the real service sends is described there).
"""

import email.utils
import math
import urllib.parse
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import requests
from django.conf import settings
from django.db import connection

from core.metrics import observe_api_call
from core.net import connection_problem
from core.net import origin as url_origin
from integrations.identify_answer import IdentifyAnswerUnusable, read_identify_answer

# Tolerance when matching a rendered clip to the range that was asked for: the API echoes the
# numbers back, possibly re-serialized (e.g. "12.5" for 12.5).
_RANGE_TOLERANCE_SECONDS = 0.01
_BODY_EXCERPT_CHARS = 300
# Beyond one redirect interval, what one request may take (the service answers `303` by then;
# the margin covers its own lateness and the network). Proxy idle timeouts in front of the
# steps pool must exceed the interval plus this.
REQUEST_MARGIN_SECONDS = 30.0


class ClipsApiError(Exception):
    """A call of a clips API failed; the subclass says whether asking again can help."""


class ClipsApiUnavailable(ClipsApiError):
    """The API could not be reached or failed on its side: worth retrying."""


class ClipsApiRetryAfter(ClipsApiError):
    """The API asked to be called again after `delay` (`429`/`503` with `Retry-After`)."""

    def __init__(self, message: str, delay: timedelta) -> None:
        super().__init__(message)
        self.delay = delay


class ClipsApiRefused(ClipsApiError):
    """The API refused the call (4xx), or it cannot be called at all: retrying cannot help."""


class ClipsApiMalformed(ClipsApiError):
    """The API answered, but not what the contract promises: retrying cannot help."""


class ClipsApiNoResult(ClipsApiRefused):
    """A call still running after every wait it is allowed (`waits_allowed`): given up, not
    retried, since a retry would POST again and pay for another run."""


@dataclass(frozen=True)
class StillRunning:
    """The service answered `303`: the call goes on, its result to be fetched at `result_url`
    (pass it back as `result_url=`; a GET never starts a new run)."""

    result_url: str


def _outcome(err: Exception) -> str:
    """How a failed call counts in `korai_external_api_call_duration_seconds`."""
    if isinstance(err, ClipsApiMalformed):
        return "malformed"
    if isinstance(err, ClipsApiUnavailable | ClipsApiRetryAfter):
        return "retriable"
    return "refused"


# --- Public calls -------------------------------------------------------------------------------


def identify_clips(
    *, youtube_url: str, s3_key: str, prompt: str, result_url: str = ""
) -> dict | StillRunning:
    """Ask the identification API for a video's clips (or, given the `result_url` of that call
    in flight, wait on it); returns `parse_identify_response`'s dict, or `StillRunning`."""
    with observe_api_call("identify-clips", _outcome):
        payload = _call(
            api="identify-clips",
            url=settings.CLIPS_API_URL,
            url_setting="CLIPS_API_URL",
            fallback_url=settings.CLIPS_API_FALLBACK_URL,
            body={"youtube_url": youtube_url, "s3_key_yt": s3_key, "prompt": prompt or ""},
            result_url=result_url,
        )
        if isinstance(payload, StillRunning):
            return payload
        return parse_identify_response(payload)


def process_clips(
    *,
    s3_key: str,
    clips: list[dict],
    prompt: str = "",
    target_language: str | None,
    aspect_ratio: str,
    subtitles: bool,
    subtitle_customization: dict,
    result_url: str = "",
) -> list[dict] | StillRunning:
    """Render `clips` ([{"start", "end"}], in this order) of the video stored at `s3_key` in
    ONE request (or, given the `result_url` of that call in flight, wait on it); returns the
    answer's `processed_clips` ([{"start", "end", "s3_key"}]), validated, in the answer's
    order, or `StillRunning`.

    How the real processing API (the original Korai's `py-server/`) behaves, which decides how
    Korai must call it:
    - it renders all clips of a request in one job and transcribes the whole source video once
      per request: one request per clip would pay a full transcription per clip;
    - it writes each output to `{dirname(s3_key)}/clip_{i}.mp4` in its bucket, `i` being the
      clip's position in THIS request's `clips`: every request about the same video writes to
      the same few keys, so an output must be copied away (to a key of the export) before
      another request of that video runs;
    - a clip it could not render is missing from `processed_clips` (or the whole request
      fails): the caller checks each range it asked for;
    - `target_language` is a BCP-47 tag; integer subtitle fields must be integers;
    - a call that runs past 150 s is answered with a 303 redirect to a result URL.
    """
    with observe_api_call("process-clips", _outcome):
        payload = _call(
            api="process-clips",
            url=settings.PROCESS_CLIPS_API_URL,
            url_setting="PROCESS_CLIPS_API_URL",
            fallback_url=settings.PROCESS_CLIPS_API_FALLBACK_URL,
            body={
                "s3_key": s3_key,
                "clips": [{"start": clip["start"], "end": clip["end"]} for clip in clips],
                "prompt": prompt or "",
                "target_language": target_language,
                "aspect_ratio": aspect_ratio,
                "subtitles": subtitles,
                "subtitle_customization": subtitle_customization,
            },
            result_url=result_url,
        )
        if isinstance(payload, StillRunning):
            return payload
        return parse_process_response(payload)["processed_clips"]


def process_call_max_seconds() -> float:
    """The longest a render's call can still take from now: each URL it tries (the fallback
    too) gets a connect timeout and CLIPS_API_READ_TIMEOUT_SECONDS, its waits included."""
    one = settings.CLIPS_API_CONNECT_TIMEOUT_SECONDS + settings.CLIPS_API_READ_TIMEOUT_SECONDS
    return one * (2 if settings.PROCESS_CLIPS_API_FALLBACK_URL else 1)


def rendered_for(processed: list[dict], *, start: float, end: float) -> dict | None:
    """The answer's clip for the range `start`-`end` (the API echoes the numbers, possibly
    re-serialized), or None when the answer lacks it."""
    for clip in processed:
        if (
            abs(clip["start"] - start) <= _RANGE_TOLERANCE_SECONDS
            and abs(clip["end"] - end) <= _RANGE_TOLERANCE_SECONDS
        ):
            return clip
    return None


# --- Validation of answers ----------------------------------------------------------------------


def parse_identify_response(payload: object) -> dict:
    """The answer read leniently by `integrations.identify_answer.read_identify_answer`
    (usable clips kept, broken ones listed in "dropped"); an answer unusable as a whole raises
    `ClipsApiMalformed`: asking again would pay for the same analysis."""
    try:
        return read_identify_answer(payload)
    except IdentifyAnswerUnusable as err:
        raise ClipsApiMalformed(f"identify-clips API answer: {err}") from None


def parse_process_response(payload: object) -> dict:
    """Validate a whole processing answer: `{"processed_clips": [{"start", "end", "s3_key"}]}`."""
    where = "process-clips API answer"
    if not isinstance(payload, dict):
        raise _malformed(where, "(body)", "must be a JSON object")
    clips = []
    for field, raw, start, end in _clip_ranges(payload, where, "processed_clips"):
        s3_key = raw.get("s3_key")
        if not isinstance(s3_key, str) or not s3_key.strip():
            raise _malformed(where, f"{field}.s3_key", "must be a non-empty string")
        if len(s3_key) > 1024:
            raise _malformed(where, f"{field}.s3_key", "must be at most 1024 characters")
        clips.append({"start": start, "end": end, "s3_key": s3_key})
    return {"processed_clips": clips}


def _clip_ranges(payload: dict, where: str, list_field: str):
    """Each object of the answer's clip list, as (its field path, the object, start, end), with
    the list, the objects and 0 <= start < end checked."""
    clips_raw = payload.get(list_field)
    if not isinstance(clips_raw, list):
        raise _malformed(where, list_field, "must be a list")
    for i, raw in enumerate(clips_raw):
        field = f"{list_field}[{i}]"
        if not isinstance(raw, dict):
            raise _malformed(where, field, "must be an object")
        start = _number(raw.get("start"), where, f"{field}.start", minimum=0)
        end = _number(raw.get("end"), where, f"{field}.end", minimum=0)
        if not start < end:
            raise _malformed(where, field, f"start ({start:g}) must be before end ({end:g})")
        yield field, raw, start, end


def _malformed(where: str, field: str, problem: str) -> ClipsApiMalformed:
    return ClipsApiMalformed(f"{where}: {field} {problem}")


def _number(value: object, where: str, field: str, *, minimum: float | None = None) -> float:
    # bool is an int subclass: `true` is not a number here.
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise _malformed(where, field, f"must be a number, got {value!r}")
    try:
        number = float(value)
    except ValueError:
        raise _malformed(where, field, f"must be a number, got {value!r}") from None
    if not math.isfinite(number):
        raise _malformed(where, field, f"must be a finite number, got {value!r}")
    if minimum is not None and number < minimum:
        raise _malformed(where, field, f"must be at least {minimum:g}, got {number:g}")
    return number


# --- HTTP ---------------------------------------------------------------------------------------


def _call(
    *, api: str, url: str, url_setting: str, fallback_url: str, body: dict, result_url: str
) -> object:
    """ONE request: the POST of `body` (then to the fallback if the primary fails
    retriably), or, given the `result_url` of a call in flight, a GET of it. Returns the
    decoded JSON answer, or `StillRunning` when the service answered `303` (still at work)."""
    if not url:
        raise ClipsApiRefused(f"{url_setting} is not set: cannot call the {api} API")
    _release_db_connection()
    if result_url:
        # The token goes only to the origins Korai was configured with, not wherever a
        # `Location` pointed.
        ours = {_origin(u) for u in (url, fallback_url) if u}
        response = _send(api, "GET", result_url, token=_origin(result_url) in ours)
        return _answer(api, result_url, response)
    try:
        return _answer(api, url, _send(api, "POST", url, body=body))
    except (ClipsApiUnavailable, ClipsApiRetryAfter) as primary_error:
        if not fallback_url:
            raise
        try:
            return _answer(api, fallback_url, _send(api, "POST", fallback_url, body=body))
        except (ClipsApiUnavailable, ClipsApiRetryAfter) as fallback_error:
            # Both are down: the fallback's classification decides, the message names both.
            message = f"{primary_error}; fallback: {fallback_error}"
            if isinstance(fallback_error, ClipsApiRetryAfter):
                raise ClipsApiRetryAfter(message, fallback_error.delay) from None
            raise ClipsApiUnavailable(message) from None


def _release_db_connection() -> None:
    """Give the thread's database connection back before waiting on the clips API: a hundred
    steps waiting on a GPU must not hold a hundred PostgreSQL connections. The next query
    reconnects (a few ms against a wait of seconds to minutes). Inside a transaction the
    connection is the transaction's and stays."""
    if not connection.in_atomic_block:
        connection.close()


def request_timeout_seconds() -> float:
    """The read timeout of one request: one redirect interval (the service answers `303` by
    then) plus a margin, and never more than the whole call may take."""
    return min(
        settings.CLIPS_API_READ_TIMEOUT_SECONDS,
        settings.CLIPS_API_REDIRECT_INTERVAL_SECONDS + REQUEST_MARGIN_SECONDS,
    )


def waits_allowed() -> int:
    """How many waits on a result URL a call gets after its POST: each lasts one redirect
    interval, and together they cover CLIPS_API_READ_TIMEOUT_SECONDS (900 / 150: 6)."""
    interval = max(settings.CLIPS_API_REDIRECT_INTERVAL_SECONDS, 0.1)
    return max(math.ceil(settings.CLIPS_API_READ_TIMEOUT_SECONDS / interval), 1)


def _send(
    api: str, method: str, url: str, *, body: dict | None = None, token: bool = True
) -> requests.Response:
    headers = {"Accept": "application/json"}
    if token and settings.CLIPS_API_TOKEN:
        headers["Authorization"] = f"Bearer {settings.CLIPS_API_TOKEN}"
    connect, read = settings.CLIPS_API_CONNECT_TIMEOUT_SECONDS, request_timeout_seconds()
    try:
        # A 303 is not followed here: its result URL must reach the job's row before anything
        # else waits on it (jobs/calls.py).
        return requests.request(
            method, url, json=body, headers=headers, timeout=(connect, read), allow_redirects=False
        )
    except requests.ConnectTimeout as err:
        raise ClipsApiUnavailable(
            f"{api} API unreachable: no connection within {connect:g}s ({url_origin(url)})"
        ) from err
    except requests.Timeout as err:
        raise ClipsApiUnavailable(
            f"{api} API did not answer within {read:g}s ({url_origin(url)})"
        ) from err
    except requests.RequestException as err:
        # In words, not urllib3's HTTPConnectionPool(...) repr: it lands in the job's error
        # and timeline, once per attempt.
        raise ClipsApiUnavailable(
            f"{api} API unreachable: {connection_problem(err)} ({url_origin(url)})"
        ) from err


def _answer(api: str, url: str, response: requests.Response) -> object:
    """The decoded JSON of a 2xx, `StillRunning` for a `303` with a result URL, or the
    failure's classification."""
    status = response.status_code
    location = response.headers.get("Location")
    if status == 303 and location:
        return StillRunning(urllib.parse.urljoin(response.url or url, location))
    if status < 300:
        try:
            return response.json()
        except ValueError:
            raise ClipsApiMalformed(
                f"{api} API answer from {url} is not JSON: {_excerpt(response)}"
            ) from None

    described = f"{api} API at {url} answered {status} {response.reason}: {_excerpt(response)}"
    if status in (429, 503):
        retry_at = _retry_after(response.headers.get("Retry-After"))
        if retry_at is not None:
            delay = max(retry_at - datetime.now(UTC), timedelta(seconds=1))
            raise ClipsApiRetryAfter(described, delay)
    if status == 429 or status >= 500:
        raise ClipsApiUnavailable(described)
    raise ClipsApiRefused(described)


def _origin(url: str) -> tuple[str, str]:
    parts = urllib.parse.urlsplit(url)
    return parts.scheme, parts.netloc


def _retry_after(value: str | None) -> datetime | None:
    """`Retry-After` as an aware time: either delta-seconds or an HTTP date; None if unusable."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return datetime.now(UTC) + timedelta(seconds=int(value))
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return when


def _excerpt(response: requests.Response) -> str:
    text = response.text.strip().replace("\n", " ")
    if len(text) > _BODY_EXCERPT_CHARS:
        text = text[:_BODY_EXCERPT_CHARS] + "…"
    return text or "(empty body)"
