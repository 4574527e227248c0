"""A fake of the two external clips APIs on 127.0.0.1, for tests and benchmarks.

    with FakeClipsAPI(clips=3) as api:
        settings.CLIPS_API_URL = api.identify_url
        settings.PROCESS_CLIPS_API_URL = api.process_url
        api.queue("identify", Reply(status=502), times=2)   # the next 2 identify calls fail
        api.queue("identify", Reply(hang=5))                # then one hangs 5 s (or until close())
        api.queue("process", Reply(status=429, headers={"Retry-After": "3"}))
        api.queue("identify", Reply(raw=b"not json"))       # malformed answers: raw bytes or
        api.queue("identify", Reply(body={"oops": 1}))      # any JSON body
        api.on_range(30, 60, Reply(status=400))             # process calls asking for 30-60s
        api.omit(30, 60, times=1)                           # rendered, but left out of the answer
        api.queue("identify", Reply(redirects=2))           # 303, 303, then the answer
        api.count("identify"), api.count("process", start=30, end=60), api.calls

Without a scripted reply, identify answers `clips` well-formed clips as the real service does
(numbers as numeric strings in every other clip, integer scores 0-10, a bare `s3_path`; with
`messy=True` also "MM:SS"/"HH:MM:SS" times, topics as a string and one broken clip of each kind,
see `devtools.sandbox.messy_clips`), and process renders every range it is asked for in one job,
as the real service does: outputs named by position in the request,
`{dirname(s3_key)}/clip_{i}.mp4`, each written to the bucket (`store`, e.g. the `s3` fixture's
bucket) with bytes of its own, so a later render of the same video overwrites them. A reply with
`redirects=n` answers `303` to a result URL n times, as the real service does for a call over
150 s, before it is given. Requests without `Authorization: Bearer <token>` get 401. The
`fake_clips_api` fixture (below, shared by tests/conftest.py) starts one and points settings at
it.
"""

from __future__ import annotations

import dataclasses
import json
import posixpath
import threading
import time
import urllib.parse
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from devtools.sandbox import messy_clips

IDENTIFY, PROCESS = "identify", "process"
RESULT_PARAMETER = "__modal_function_call_id"  # as the real service's result URLs
_PATHS = {"/identify-clips": IDENTIFY, "/process-clips": PROCESS}


@dataclass
class Reply:
    """A scripted answer. `body` is sent as JSON, `raw` as is (neither: the usual answer); `hang`
    seconds are waited first (cut short by close()); with `hold`, the answer waits until that
    event is set (a call still in flight while the test does something else)."""

    status: int = 200
    body: object = None
    raw: bytes | None = None
    headers: dict = field(default_factory=dict)
    hang: float = 0.0
    redirects: int = 0  # 303s to a result URL before the reply itself
    redirect_delay: float = 0.0  # seconds each of those 303s takes (the real service: 150)
    hold: threading.Event | None = None


@dataclass
class Call:
    endpoint: str
    body: object
    headers: dict
    started: float = 0.0  # time.monotonic() when it arrived
    answered: float = 0.0  # ... and when its answer was sent (0.0: never)


class FakeClipsAPI:
    def __init__(
        self,
        *,
        clips: int = 3,
        token: str = "test-clips-token",
        messy: bool = False,
        store: Callable[[str, bytes], None] | None = None,
    ) -> None:
        self.clips = clips
        self.token = token
        self.messy = messy
        # result URL id -> [303s still to give, the reply]: calls the service "is still running"
        self._results: dict[str, list] = {}
        self.store = store  # put(key, bytes): where rendered outputs are written
        self.renders = 0
        # Seconds a process call takes after writing its outputs (to make renders overlap).
        self.process_seconds = 0.0
        self._omitted: dict[tuple[float, float], int | None] = {}
        self.calls: list[Call] = []
        self._queues: dict[str, deque[Reply]] = {IDENTIFY: deque(), PROCESS: deque()}
        self._ranges: dict[tuple[float, float], deque[Reply] | Reply] = {}
        self._lock = threading.Lock()
        self._closing = threading.Event()
        handler = type("Handler", (_Handler,), {"api": self})
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    # --- lifecycle ------------------------------------------------------------------------
    def start(self) -> FakeClipsAPI:
        self._thread.start()
        return self

    def close(self) -> None:
        self._closing.set()
        self._server.shutdown()
        self._server.server_close()

    def __enter__(self) -> FakeClipsAPI:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.close()

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    @property
    def identify_url(self) -> str:
        return f"{self.url}/identify-clips"

    @property
    def process_url(self) -> str:
        return f"{self.url}/process-clips"

    # --- scripting ------------------------------------------------------------------------
    def queue(self, endpoint: str, reply: Reply, *, times: int = 1) -> None:
        """Answer the next `times` calls of `endpoint` with `reply` (after earlier queued ones)."""
        with self._lock:
            self._queues[endpoint].extend([reply] * times)

    def on_range(self, start: float, end: float, reply: Reply, *, times: int | None = None) -> None:
        """Answer process calls for this range with `reply`: the next `times` ones, or all."""
        with self._lock:
            key = (float(start), float(end))
            self._ranges[key] = reply if times is None else deque([reply] * times)

    def omit(self, start: float, end: float, *, times: int | None = None) -> None:
        """Leave this range out of the next `times` process answers (or all), as the real
        service does with a clip it failed to render."""
        with self._lock:
            self._omitted[(float(start), float(end))] = times

    def count(self, endpoint: str, *, start: float | None = None, end: float | None = None) -> int:
        with self._lock:
            calls = [c for c in self.calls if c.endpoint == endpoint]
        if start is not None:
            calls = [c for c in calls if (float(start), float(end)) in _ranges_of(c.body)]
        return len(calls)

    # --- answers --------------------------------------------------------------------------
    def _reply_for(self, endpoint: str, body: object) -> Reply:
        with self._lock:
            if endpoint == PROCESS:
                for asked in _ranges_of(body):
                    scripted = self._ranges.get(asked)
                    if isinstance(scripted, Reply):
                        return scripted
                    if scripted:
                        return scripted.popleft()
            if self._queues[endpoint]:
                return self._queues[endpoint].popleft()
        if endpoint == IDENTIFY:
            return Reply(body=self.identify_answer(body))
        return Reply(body=self.process_answer(body))

    def identify_answer(self, body: object) -> dict:
        clips = []
        for i in range(self.clips):
            start, end = 60.0 * i + 5, 60.0 * i + 35.5
            as_text = i % 2 == 1
            score = 10 - i % 11
            clips.append(
                {
                    "start": str(start) if as_text else start,
                    "end": str(end) if as_text else end,
                    "title": f"Moment {i + 1}",
                    "summary": f"Why moment {i + 1} works.",
                    "virality_score": str(score) if as_text else score,
                    "related_topics": ["korai", f"topic-{i}"],
                    "transcript": f"Words of moment {i + 1}.",
                }
            )
        if self.messy:
            clips = messy_clips(clips)
        return {
            "total_clips": len(clips),  # as the service counts: broken clips too
            "video_duration": 60.0 * self.clips + 12.5,
            "detected_language": "en",
            "s3_path": body.get("s3_key_yt", "") if isinstance(body, dict) else "",
            "identified_clips": clips,
        }

    def process_answer(self, body: object) -> dict:
        s3_key = body.get("s3_key", "") if isinstance(body, dict) else ""
        folder = posixpath.dirname(s3_key)
        with self._lock:
            self.renders += 1
            render = self.renders
        processed = []
        for position, (start, end) in enumerate(_ranges_of(body)):
            if self._take_omission(start, end):
                continue
            key = f"{folder}/clip_{position}.mp4"
            if self.store is not None:
                self.store(key, render_bytes(s3_key, start, end, render))
            processed.append({"start": start, "end": end, "s3_key": key})
        return {"processed_clips": processed}

    def _take_omission(self, start: float, end: float) -> bool:
        with self._lock:
            if (start, end) not in self._omitted:
                return False
            times = self._omitted[(start, end)]
            if times is not None:
                if times <= 1:
                    del self._omitted[(start, end)]
                else:
                    self._omitted[(start, end)] = times - 1
            return True


def render_bytes(s3_key: str, start: float, end: float, render: int) -> bytes:
    """What the fake writes for one rendered clip: different for every range and render."""
    return f"fake render {render} of {s3_key} {start:g}-{end:g}s".encode()


def _ranges_of(body: object) -> list[tuple[float, float]]:
    try:
        return [(float(clip["start"]), float(clip["end"])) for clip in body["clips"]]
    except (TypeError, KeyError, ValueError):
        return []


class _Handler(BaseHTTPRequestHandler):
    api: FakeClipsAPI

    def do_POST(self) -> None:
        api = self.api
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length)
        try:
            body = json.loads(raw)
        except ValueError:
            body = None
        endpoint = _PATHS.get(self.path)
        if endpoint is None:
            self._send(Reply(status=404, body={"detail": "unknown path"}))
            return
        call = Call(endpoint, body, dict(self.headers.items()), started=time.monotonic())
        with api._lock:
            api.calls.append(call)
        if self.headers.get("Authorization") != f"Bearer {api.token}":
            self._send(Reply(status=401, body={"detail": "bad token"}))
            return
        reply = api._reply_for(endpoint, body)
        if reply.redirects:
            if reply.body is None and reply.raw is None:  # the usual answer, when it is ready
                default = api.identify_answer if endpoint == IDENTIFY else api.process_answer
                reply = dataclasses.replace(reply, body=default(body))
            with api._lock:
                call_id = f"fc-{len(api._results) + 1}"
                api._results[call_id] = [reply.redirects, reply]
            # The POST too is held one interval before its 303, as on Modal.
            if reply.redirect_delay and api._closing.wait(reply.redirect_delay):
                return
            self._redirect(call_id)
            return
        if reply.hang and api._closing.wait(reply.hang):
            return
        if reply.hold is not None:
            while not reply.hold.wait(0.05):
                if api._closing.is_set():
                    return
            if reply.body is None and reply.raw is None:
                default = api.identify_answer if endpoint == IDENTIFY else api.process_answer
                reply = dataclasses.replace(reply, body=default(body))
        if endpoint == PROCESS and api.process_seconds and api._closing.wait(api.process_seconds):
            return
        self._send(reply)
        call.answered = time.monotonic()

    def do_GET(self) -> None:
        """A result URL: redirected again while redirects are left, then the reply."""
        api = self.api
        path, _, query = self.path.partition("?")
        call_id = urllib.parse.parse_qs(query).get(RESULT_PARAMETER, [""])[0]
        with api._lock:
            api.calls.append(Call(f"result:{_PATHS.get(path, path)}", None, dict(self.headers)))
            pending = api._results.get(call_id)
            if pending is not None:
                pending[0] -= 1
        if pending is None:
            self._send(Reply(status=404, body={"detail": "unknown result"}))
        elif self.headers.get("Authorization") != f"Bearer {api.token}":
            self._send(Reply(status=401, body={"detail": "bad token"}))
        elif pending[0] > 0:
            if pending[1].redirect_delay and api._closing.wait(pending[1].redirect_delay):
                return
            self._redirect(call_id)
        else:
            self._send(pending[1])

    def _redirect(self, call_id: str) -> None:
        path = self.path.partition("?")[0]
        self._send(Reply(status=303, headers={"Location": f"{path}?{RESULT_PARAMETER}={call_id}"}))

    def _send(self, reply: Reply) -> None:
        payload = reply.raw if reply.raw is not None else json.dumps(reply.body).encode()
        try:
            self.send_response(reply.status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            for name, value in reply.headers.items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(payload)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client gave up (its read timeout): nothing left to answer

    def log_message(self, format: str, *args) -> None:
        return


@pytest.fixture
def fake_clips_api(request, settings, s3):
    """The fake clips APIs, with settings pointing at them and short timeouts (a test module
    may set its own `CLIPS_API_READ_TIMEOUT_SECONDS` and `CLIPS_API_REDIRECT_INTERVAL_SECONDS`);
    rendered clips are written to the `s3` fixture's bucket, as the real service writes to its
    bucket."""
    with FakeClipsAPI(clips=3, store=s3.put) as api:
        settings.CLIPS_API_URL = api.identify_url
        settings.PROCESS_CLIPS_API_URL = api.process_url
        settings.CLIPS_API_FALLBACK_URL = ""
        settings.PROCESS_CLIPS_API_FALLBACK_URL = ""
        settings.CLIPS_API_TOKEN = api.token
        settings.CLIPS_API_CONNECT_TIMEOUT_SECONDS = 1.0
        settings.CLIPS_API_READ_TIMEOUT_SECONDS = getattr(
            request.module, "CLIPS_API_READ_TIMEOUT_SECONDS", 0.5
        )
        # Short, so a call gets several waits on its result URL (the read timeout / this).
        settings.CLIPS_API_REDIRECT_INTERVAL_SECONDS = getattr(
            request.module, "CLIPS_API_REDIRECT_INTERVAL_SECONDS", 0.1
        )
        yield api
