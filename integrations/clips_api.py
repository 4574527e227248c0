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

A call that runs past 150 s is answered `303 See Other` to a result URL, maybe again and again
until the result is ready (the real service runs on Modal): redirects are followed within the
read timeout (`_post_following_redirects`). Identification answers are raw LLM output, read
leniently by `integrations.identify_answer` (what the real service sends is described there).
"""

import email.utils
import math
import time
import urllib.parse
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
# Redirects followed for one call; the read timeout bounds them first (Modal: 150 s each).
_MAX_REDIRECTS = 50


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


def _outcome(err: Exception) -> str:
    """How a failed call counts in `korai_external_api_call_duration_seconds`."""
    if isinstance(err, ClipsApiMalformed):
        return "malformed"
    if isinstance(err, ClipsApiUnavailable | ClipsApiRetryAfter):
        return "retriable"
    return "refused"


# --- Public calls -------------------------------------------------------------------------------


def identify_clips(*, youtube_url: str, s3_key: str, prompt: str) -> dict:
    """Ask the identification API for a video's clips; returns `parse_identify_response`'s dict."""
    with observe_api_call("identify-clips", _outcome):
        payload = _post(
            api="identify-clips",
            url=settings.CLIPS_API_URL,
            url_setting="CLIPS_API_URL",
            fallback_url=settings.CLIPS_API_FALLBACK_URL,
            body={"youtube_url": youtube_url, "s3_key_yt": s3_key, "prompt": prompt or ""},
        )
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
) -> list[dict]:
    """Render `clips` ([{"start", "end"}], in this order) of the video stored at `s3_key` in
    ONE request; returns the answer's `processed_clips` ([{"start", "end", "s3_key"}]),
    validated, in the answer's order.

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
        payload = _post(
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
        )
        return parse_process_response(payload)["processed_clips"]


def process_call_max_seconds() -> float:
    """The longest one `process_clips` call can take: each URL it tries (the fallback too)
    gets a connect timeout and the read timeout, its redirects included."""
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


def _post(*, api: str, url: str, url_setting: str, fallback_url: str, body: dict) -> object:
    """POST `body` to the API (then to its fallback if the primary fails retriably) and return
    the decoded JSON answer."""
    if not url:
        raise ClipsApiRefused(f"{url_setting} is not set: cannot call the {api} API")
    try:
        return _post_once(api=api, url=url, body=body)
    except (ClipsApiUnavailable, ClipsApiRetryAfter) as primary_error:
        if not fallback_url:
            raise
        try:
            return _post_once(api=api, url=fallback_url, body=body)
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


def _post_once(*, api: str, url: str, body: dict) -> object:
    headers = {"Content-Type": "application/json", "Accept": "application/json"}
    if settings.CLIPS_API_TOKEN:
        headers["Authorization"] = f"Bearer {settings.CLIPS_API_TOKEN}"
    _release_db_connection()
    try:
        response = _post_following_redirects(api=api, url=url, body=body, headers=headers)
    except requests.ConnectTimeout as err:
        raise ClipsApiUnavailable(
            f"{api} API unreachable: no connection within "
            f"{settings.CLIPS_API_CONNECT_TIMEOUT_SECONDS:g}s ({url_origin(url)})"
        ) from err
    except requests.Timeout as err:
        raise ClipsApiUnavailable(
            f"{api} API did not answer within {settings.CLIPS_API_READ_TIMEOUT_SECONDS:g}s "
            f"({url_origin(url)})"
        ) from err
    except requests.RequestException as err:
        # In words, not urllib3's HTTPConnectionPool(...) repr: it lands in the job's error
        # and timeline, once per attempt.
        raise ClipsApiUnavailable(
            f"{api} API unreachable: {connection_problem(err)} ({url_origin(url)})"
        ) from err

    status = response.status_code
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


def _post_following_redirects(
    *, api: str, url: str, body: dict, headers: dict
) -> requests.Response:
    """POST, then follow the service's `303 See Other` answers with GETs, all within one read
    timeout (CLIPS_API_READ_TIMEOUT_SECONDS) counted from the POST.

    The real service runs as Modal web endpoints: a call still running after 150 s is answered
    `303` to a result URL (the same URL plus `__modal_function_call_id`), which blocks up to
    150 s more and redirects to itself again until the result is ready; reloading it starts
    nothing new. The bearer token goes along only while the URL stays on the same origin."""
    connect = settings.CLIPS_API_CONNECT_TIMEOUT_SECONDS
    read = settings.CLIPS_API_READ_TIMEOUT_SECONDS
    deadline = time.monotonic() + read
    response = requests.post(
        url, json=body, headers=headers, timeout=(connect, read), allow_redirects=False
    )
    origin = _origin(url)
    for hop in range(1, _MAX_REDIRECTS + 1):
        location = response.headers.get("Location")
        if response.status_code != 303 or not location:
            return response
        next_url = urllib.parse.urljoin(response.url, location)
        no_result = ClipsApiUnavailable(
            f"{api} API at {url} had no result after {read:g} s (the read timeout; "
            f"{hop} redirects to its result URL followed)"
        )
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise no_result
        hop_headers = {"Accept": "application/json"}
        if _origin(next_url) == origin and "Authorization" in headers:
            hop_headers["Authorization"] = headers["Authorization"]
        response.close()
        try:
            response = requests.get(
                next_url, headers=hop_headers, timeout=(connect, remaining), allow_redirects=False
            )
        except requests.Timeout:
            raise no_result from None
    raise ClipsApiUnavailable(f"{api} API at {url} redirected more than {_MAX_REDIRECTS} times")


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
