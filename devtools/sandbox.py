"""A local stand-in for the two external clips APIs, for development and demos.

It speaks the contract (`POST /identify-clips`, `POST /process-clips`, bearer token) on
127.0.0.1 and answers with plausible clips that depend only on the YouTube URL, so the same video
always gets the same clips. Like the real service it renders every clip of a request in one job,
names the outputs by position (`{dirname(s3_key)}/clip_{i}.mp4`) and, given a bucket (the
command uses Korai's storage settings), really writes them there, and the source video at
`s3_key_yt`: small playable MP4s whose bytes differ per clip, each rendered clip in the shape of
the requested aspect ratio (9:16, 1:1, 16:9). Latency and a failure rate can be switched on to
rehearse retries and failure handling; `messy` identify answers (as raw LLM output) rehearse
what the real service sends. Like the real service (Modal web endpoints, which hold a request
150 s), a call slower than `hold` seconds is answered `303` to a result URL after `hold`; a GET
of it waits up to `hold` again and answers `303` to itself or the result; reloading it starts
nothing, every POST starts (and would pay for) a run of its own, and `GET /runs` counts the
runs started per endpoint. Nothing in the settings points at it:
local development reaches it through `.env.example`'s `CLIPS_API_URL`/`PROCESS_CLIPS_API_URL`,
started with `python manage.py clips_sandbox`.
"""

import hashlib
import hmac
import json
import logging
import posixpath
import random
import struct
import threading
import time
import urllib.parse
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

logger = logging.getLogger(__name__)

IDENTIFY_PATH = "/identify-clips"
PROCESS_PATH = "/process-clips"
HEALTH_PATH = "/healthz"
RUNS_PATH = "/runs"
ASPECT_RATIOS = ("9:16", "1:1", "16:9")
FAILURE_KINDS = ("server-error", "throttle", "malformed")
MAX_BODY_BYTES = 1_000_000
RESULT_PARAMETER = "__modal_function_call_id"  # the real service's result URLs carry it
SAMPLE_CLIP = Path(__file__).with_name("sandbox_clip.mp4")  # the source video
# A rendered clip of each aspect ratio: 2 s of H.264, 144x256, 192x192 and 256x144.
SAMPLE_CLIPS = {
    ratio: Path(__file__).with_name(f"sandbox_clip_{ratio.replace(':', 'x')}.mp4")
    for ratio in ASPECT_RATIOS
}

_TOPICS = (
    "productivity", "startups", "fitness", "cooking", "travel", "money", "science", "history",
    "music", "gaming", "psychology", "technology", "comedy", "motivation", "design", "sports",
)  # fmt: skip
_HOOKS = (
    "The one habit that changed everything",
    "Nobody talks about this mistake",
    "Why this works better than you think",
    "The moment the room went silent",
    "A story you will want to share",
    "The surprising truth about {topic}",
    "Stop doing this if you care about {topic}",
    "How {topic} really works",
    "The best advice on {topic} in 60 seconds",
    "This changed how I think about {topic}",
)
_SENTENCES = (
    "Here is the thing most people get wrong.",
    "I tried it for thirty days and the results surprised me.",
    "You do not need more time, you need a better system.",
    "That is when everything started to make sense.",
    "Write this down, because it matters.",
    "The data tells a completely different story.",
    "Honestly, I did not expect the audience to react like that.",
    "Start small, and let the results compound.",
)


class SandboxError(Exception):
    """A request the real API would refuse; answered with 400 and this message."""


def _rng_for(*parts: str) -> random.Random:
    # A hash (not Python's salted hash()) so the same URL gives the same clips in every process.
    digest = hashlib.sha256("\x1f".join(parts).encode()).digest()
    return random.Random(int.from_bytes(digest[:8], "big"))  # noqa: S311 - not cryptography


def _number(value, *, name: str) -> float:
    # The contract lets numbers arrive as numeric strings; anything else is the caller's bug.
    if isinstance(value, bool):
        raise SandboxError(f"{name} must be a number")
    try:
        return float(value)
    except (TypeError, ValueError):
        raise SandboxError(f"{name} must be a number, got {value!r}") from None


def identify_clips_response(
    *,
    youtube_url: str | None = None,
    s3_key_yt: str | None = None,
    prompt: str = "",
    messy: bool = False,
    **_ignored,
) -> dict:
    """The identify-clips answer for a video: 3-8 non-overlapping clips, seeded by the URL, in
    the real service's shape (integer scores 0-10, `total_clips` counting every clip sent, the
    bare key as `s3_path`); `messy` writes them as an LLM may (`messy_clips`). Missing or
    mistyped fields raise `SandboxError`; unknown ones are ignored, as APIs do."""
    if not isinstance(youtube_url, str) or not youtube_url.strip():
        raise SandboxError("youtube_url is required")
    if not isinstance(s3_key_yt, str) or not s3_key_yt.strip():
        raise SandboxError("s3_key_yt is required")
    if prompt is not None and not isinstance(prompt, str):
        raise SandboxError("prompt must be a string")

    rng = _rng_for(youtube_url.strip())
    duration = float(rng.randrange(240, 3600))
    count = rng.randint(3, 8)
    # Cut the video into `count` equal windows and place one clip inside each: no overlaps,
    # ascending starts, every clip 15-90 seconds long.
    window = duration / count
    clips = []
    for index in range(count):
        length = min(rng.uniform(15, 90), window - 1)
        start = round(index * window + rng.uniform(0, window - length), 2)
        end = round(start + length, 2)
        topics = rng.sample(_TOPICS, k=rng.randint(1, 3))
        title = rng.choice(_HOOKS).format(topic=topics[0])
        clips.append(
            {
                "start": start,
                "end": end,
                "title": title,
                "summary": f"{title}: a {end - start:.0f}-second moment about {', '.join(topics)}.",
                "virality_score": rng.randint(0, 10),
                "related_topics": topics,
                "transcript": " ".join(rng.sample(_SENTENCES, k=3)),
            }
        )
    if messy:
        clips = messy_clips(clips)
    return {
        "total_clips": len(clips),
        "video_duration": duration,
        "detected_language": rng.choice(("en", "en", "en", "es", "de")),
        "s3_path": s3_key_yt.strip(),
        "identified_clips": clips,
    }


def messy_clips(clips: list[dict]) -> list[dict]:
    """Clips as the real service may pass its LLM's output on, unchecked: the good ones in mixed
    spellings ("MM:SS" and "HH:MM:SS" times, numeric strings, topics as one string), then one
    broken clip of each kind: no end, start after end, a repeat of the first clip, a time that
    is not a time. Needs at least 3 clips."""
    good = [dict(clip) for clip in clips]
    first, second, third = good[0], good[1], good[2]
    first["start"], first["end"] = _clock(first["start"]), _clock(first["end"])
    second["start"], second["end"] = _clock(second["start"], hours=True), str(second["end"])
    third["related_topics"] = ", ".join(third["related_topics"])
    broken = [
        {key: value for key, value in clips[0].items() if key != "end"},
        {**clips[1], "start": clips[1]["end"], "end": clips[1]["start"]},
        dict(clips[0]),
        {**clips[-1], "start": "right after the intro"},
    ]
    return good + broken


def _clock(seconds, *, hours: bool = False) -> str:
    """123.5 -> "02:03.50" (or "00:02:03.50" with hours), as an LLM writes times."""
    minutes, rest = divmod(float(seconds), 60)
    if hours:
        return f"{int(minutes) // 60:02d}:{int(minutes) % 60:02d}:{rest:05.2f}"
    return f"{int(minutes):02d}:{rest:05.2f}"


def process_clips_response(
    *,
    s3_key: str | None = None,
    clips: list | None = None,
    aspect_ratio: str | None = None,
    target_language: str | None = None,
    subtitles: bool = True,
    **_ignored,
) -> dict:
    """The process-clips answer: one rendered-clip key per requested range, stable per input.
    Missing or mistyped fields raise `SandboxError`; unknown ones are ignored."""
    if not isinstance(s3_key, str) or not s3_key.strip():
        raise SandboxError("s3_key is required")
    if aspect_ratio not in ASPECT_RATIOS:
        raise SandboxError(f"aspect_ratio must be one of {', '.join(ASPECT_RATIOS)}")
    if target_language is not None and not isinstance(target_language, str):
        raise SandboxError("target_language must be a string or null")
    if not isinstance(clips, list) or not clips:
        raise SandboxError("clips must be a non-empty list")

    # As the real service: one job for the whole request, outputs named by their position in
    # it, next to the source video. A later request about the same video overwrites them.
    folder = posixpath.dirname(s3_key.strip())
    processed = []
    for position, clip in enumerate(clips):
        if not isinstance(clip, dict):
            raise SandboxError(f"clips[{position}] must be an object")
        start = _number(clip.get("start"), name=f"clips[{position}].start")
        end = _number(clip.get("end"), name=f"clips[{position}].end")
        if not 0 <= start < end:
            raise SandboxError(f"clips[{position}] needs 0 <= start < end")
        processed.append({"start": start, "end": end, "s3_key": f"{folder}/clip_{position}.mp4"})
    return {"processed_clips": processed}


def rendered_clip_bytes(
    *, s3_key: str, start: float, end: float, note: str = "", aspect_ratio: str | None = None
) -> bytes:
    """A small playable MP4 (2 s, H.264) standing in for a rendered clip, in the shape of
    `aspect_ratio` (None: the source video's), with a trailing `free` box (which players skip)
    naming the clip, so every clip's bytes differ."""
    sample = SAMPLE_CLIPS[aspect_ratio] if aspect_ratio else SAMPLE_CLIP
    text = f"korai sandbox render of {s3_key} {start:g}-{end:g}s {note}".strip().encode()
    return sample.read_bytes() + struct.pack(">I", 8 + len(text)) + b"free" + text


@dataclass
class SandboxConfig:
    token: str
    latency: float = 0.0  # seconds added to every API answer
    failure_rate: float = 0.0  # share of API requests that fail, 0..1
    failure_kind: str = "server-error"
    seed: int | None = None  # makes the sequence of failures repeatable
    messy: bool = False  # identify answers as an LLM writes them (`messy_clips`)
    # How long a request is held before a call still running is answered 303 to its result
    # URL, as the real service (Modal web endpoints) does after 150 s; 0 never redirects.
    hold: float = 2.0
    # put(key, bytes): writes the source video and the rendered clips to the bucket, as the
    # real service does; None writes nothing (only the answers).
    store: Callable[[str, bytes], None] | None = None
    _rng: random.Random = field(init=False, repr=False)
    _lock: threading.Lock = field(init=False, repr=False, default_factory=threading.Lock)
    # result id -> (monotonic time the answer is ready, the request's builder and body)
    _pending: dict = field(init=False, repr=False, default_factory=dict)
    # endpoint path -> runs started (one per accepted POST; a GET of a result URL starts none)
    _runs: dict = field(init=False, repr=False, default_factory=dict)

    def __post_init__(self):
        if not self.token:
            raise ValueError("the sandbox needs a bearer token (CLIPS_API_TOKEN or --token)")
        if not 0 <= self.failure_rate <= 1:
            raise ValueError("failure rate must be between 0 and 1")
        if self.latency < 0:
            raise ValueError("latency must not be negative")
        if self.hold < 0:
            raise ValueError("hold must not be negative")
        if self.failure_kind not in FAILURE_KINDS:
            raise ValueError(f"failure kind must be one of {', '.join(FAILURE_KINDS)}")
        self._rng = random.Random(self.seed)  # noqa: S311 - not cryptography

    def slow_call(self, builder, body: dict) -> str:
        """Remember a call whose answer is `latency` away; returns its result id."""
        with self._lock:
            call_id = f"fc-{uuid.uuid4().hex[:12]}"
            self._pending[call_id] = (time.monotonic() + self.latency, builder, body)
            return call_id

    def run_started(self, path: str) -> None:
        with self._lock:
            self._runs[path] = self._runs.get(path, 0) + 1
        logger.info("clips sandbox: run %d of %s started", self._runs[path], path)

    def runs(self) -> dict:
        """Runs started per endpoint, e.g. {"/identify-clips": 1, "/process-clips": 2}."""
        with self._lock:
            return {path: self._runs.get(path, 0) for path in (IDENTIFY_PATH, PROCESS_PATH)}

    def pending_call(self, call_id: str):
        with self._lock:
            return self._pending.get(call_id)

    def should_fail(self) -> bool:
        if self.failure_rate <= 0:
            return False
        with self._lock:  # handler threads share one sequence, so --seed replays it exactly
            return self._rng.random() < self.failure_rate


class _Handler(BaseHTTPRequestHandler):
    server: "SandboxServer"
    protocol_version = "HTTP/1.1"

    def do_GET(self):
        path, _, query = self.path.partition("?")
        call_id = urllib.parse.parse_qs(query).get(RESULT_PARAMETER, [""])[0]
        if path == HEALTH_PATH:
            self._send(HTTPStatus.OK, {"status": "ok"})
        elif path == RUNS_PATH:
            self._send(HTTPStatus.OK, self.server.config.runs())
        elif call_id:
            self._result(call_id)
        else:
            self._send(HTTPStatus.NOT_FOUND, {"detail": f"no such endpoint: GET {self.path}"})

    def _result(self, call_id: str):
        """A result URL: blocks up to `hold` seconds, then redirects to itself again or
        answers; reloading it starts nothing new, as on Modal."""
        config = self.server.config
        pending = config.pending_call(call_id)
        if pending is None:
            self._send(HTTPStatus.NOT_FOUND, {"detail": f"no such result: {call_id}"})
            return
        if not self._authorized():
            return
        ready_at, builder, body = pending
        wait = ready_at - time.monotonic()
        if wait > config.hold:
            time.sleep(config.hold)
            self._redirect(call_id)
            return
        time.sleep(max(wait, 0))
        self._finish(builder, body, builder(**{**body, **self._options(builder)}))

    def do_POST(self):
        config = self.server.config
        builders = {IDENTIFY_PATH: identify_clips_response, PROCESS_PATH: process_clips_response}
        builder = builders.get(self.path.split("?", 1)[0])
        try:
            length = int(self.headers.get("Content-Length") or 0)
        except ValueError:
            length = -1
        if not 0 <= length <= MAX_BODY_BYTES:
            self.close_connection = True
            self._send(
                HTTPStatus.BAD_REQUEST,
                {"detail": f"Content-Length must be 0..{MAX_BODY_BYTES} bytes"},
            )
            return
        raw = self.rfile.read(length)
        if builder is None:
            self._send(HTTPStatus.NOT_FOUND, {"detail": f"no such endpoint: POST {self.path}"})
            return
        if not self._authorized():
            return
        try:
            body = json.loads(raw or b"null")
            if not isinstance(body, dict):
                raise SandboxError("the body must be a JSON object")
            answer = builder(**{**body, **self._options(builder)})
        except json.JSONDecodeError:
            self._send(HTTPStatus.BAD_REQUEST, {"detail": "the body is not valid JSON"})
            return
        except SandboxError as exc:
            self._send(HTTPStatus.BAD_REQUEST, {"detail": str(exc)})
            return

        config.run_started(self.path.split("?", 1)[0])  # every POST is a new run, paid for
        if config.hold and config.latency > config.hold:
            call_id = config.slow_call(builder, body)
            time.sleep(config.hold)
            self._redirect(call_id)
            return
        if config.latency:
            time.sleep(config.latency)
        self._finish(builder, body, answer)

    def _finish(self, builder, body: dict, answer: dict):
        """Answer a call whose work is done: an injected failure, or the answer (its objects
        written to the bucket first, as the real service uploads before it answers)."""
        config = self.server.config
        if config.should_fail():
            self._fail(config.failure_kind)
            return
        if config.store is not None:
            try:
                _write_objects(config.store, builder, body, answer)
            except Exception as exc:  # the real service fails the request when S3 does
                logger.exception("clips sandbox: cannot write to the bucket")
                self._send(HTTPStatus.INTERNAL_SERVER_ERROR, {"detail": f"storage: {exc}"})
                return
        self._send(HTTPStatus.OK, answer)

    def _authorized(self) -> bool:
        expected = f"Bearer {self.server.config.token}".encode()
        given = (self.headers.get("Authorization") or "").encode()
        if hmac.compare_digest(given, expected):
            return True
        self._send(HTTPStatus.UNAUTHORIZED, {"detail": "missing or wrong bearer token"})
        return False

    def _options(self, builder) -> dict:
        return {"messy": self.server.config.messy} if builder is identify_clips_response else {}

    def _redirect(self, call_id: str):
        path = self.path.partition("?")[0]
        self._send(
            HTTPStatus.SEE_OTHER,
            {"detail": "still working: follow the redirect"},
            headers={"Location": f"{path}?{RESULT_PARAMETER}={call_id}"},
        )

    def _fail(self, kind: str):
        if kind == "throttle":
            self._send(
                HTTPStatus.TOO_MANY_REQUESTS,
                {"detail": "sandbox: rate limited"},
                headers={"Retry-After": "1"},
            )
        elif kind == "malformed":
            # 200 with a body that is not the contract: the client must refuse it for good.
            self._send(HTTPStatus.OK, {"unexpected": "sandbox: malformed answer"})
        else:
            self._send(HTTPStatus.INTERNAL_SERVER_ERROR, {"detail": "sandbox: injected failure"})

    def _send(self, status: HTTPStatus, payload: dict, *, headers: dict | None = None):
        body = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format, *args):
        logger.info("clips sandbox: %s", format % args)


def _write_objects(store, builder, body: dict, answer: dict) -> None:
    """What the real service leaves in its bucket: the downloaded source video at `s3_key_yt`
    (identify), each rendered clip at its key (process)."""
    if builder is identify_clips_response:
        key = body["s3_key_yt"].strip()
        store(key, rendered_clip_bytes(s3_key=key, start=0, end=2, note="(source video)"))
        return
    render = uuid.uuid4().hex[:8]  # every render's bytes differ, as a real render's would
    for clip in answer["processed_clips"]:
        store(
            clip["s3_key"],
            rendered_clip_bytes(
                s3_key=body["s3_key"],
                start=clip["start"],
                end=clip["end"],
                note=f"render {render}",
                aspect_ratio=body["aspect_ratio"],
            ),
        )


class SandboxServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, config: SandboxConfig, *, host: str = "127.0.0.1", port: int = 8100):
        self.config = config
        super().__init__((host, port), _Handler)

    @property
    def base_url(self) -> str:
        host, port = self.server_address[:2]
        return f"http://{host}:{port}"
