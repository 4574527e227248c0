"""A fake Inngest event API (`POST /e/{event key}`) on 127.0.0.1, for tests and benchmarks. It
also takes an app's out-of-band sync (`POST /fn/register`), as the real server does.

    with FakeInngestEventAPI() as api:
        settings.INNGEST_BASE_URL = api.url
        ...
        api.down()      # stop listening: connection refused
        api.hang()      # accept connections, never answer (until up() or close())
        api.fail(500)   # answer every request with this status
        api.delay = 0.1 # seconds to wait before answering (to make concurrent senders overlap)
        api.up()        # accept and record events again
        api.events      # every event received while up, in order, duplicates included
        api.registrations  # the body of every sync (`POST /fn/register`), in order
        api.runs["01J..."] = "Failed"   # what `GET /v1/runs/{runId}` answers about a run

It also serves Inngest's REST API for runs, `GET /v1/runs/{runId}`, at the same origin (as the
Dev Server and self-hosted Inngest do), in the server's shape (`pkg/api/apiv1/runs.go`: the
`cqrs.FunctionRun` under `data`), authenticated with `Bearer <signing key>`; a run it was not
told about is the server's `500 Unable to load function run`.
        api.posts       # how many POSTs arrived (an empty batch, as readiness sends, too)

Or use the `fake_inngest` fixture, which also points `settings.INNGEST_BASE_URL` at it.
It de-duplicates nothing, so a test can count exactly how often an event id arrived.
"""

from __future__ import annotations

import json
import socket
import threading
import time
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

UP, DOWN, HANGING, FAILING = "up", "down", "hanging", "failing"


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True  # down() then up() binds the same port again at once


class _Handler(BaseHTTPRequestHandler):
    api: FakeInngestEventAPI  # set on the per-instance subclass

    def do_POST(self):
        api = self.api
        with api._lock:
            api.posts += 1
        if api.mode == HANGING:
            # Hold the connection without answering until the fake is brought up or closed.
            api._release.wait()
            self.close_connection = True
            return
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length)
        if api.mode == FAILING:
            self._answer(api.fail_status, {"error": "fake failure", "status": api.fail_status})
            return
        if self.path.split("?")[0] == "/fn/register":
            with api._lock:
                api.registrations.append(json.loads(body))
            # What the real server answers (pkg/cqrs/sync/sync.go, Reply).
            self._answer(200, {"ok": True, "modified": True})
            return
        if not self.path.startswith("/e/") or len(self.path) <= len("/e/"):
            self._answer(404, {"error": "unknown path", "status": 404})
            return
        try:
            payload = json.loads(body)
        except ValueError:
            self._answer(400, {"error": "body is not JSON", "status": 400})
            return
        events = payload if isinstance(payload, list) else [payload]
        key = self.path[len("/e/") :]
        if api.delay:
            time.sleep(api.delay)
        with api._lock:
            for event in events:
                api.events.append({**event, "event_key": key})
        self._answer(200, {"ids": [event.get("id") for event in events], "status": 200})

    def do_GET(self):
        api = self.api
        if api.mode in (HANGING, FAILING, DOWN):
            self._answer(api.fail_status, {"error": "fake failure", "status": api.fail_status})
            return
        api.run_requests.append(self.path)
        if self.headers.get("Authorization") != f"Bearer {api.signing_key}":
            self._answer(401, {"error": "No auth found", "status": 401})
            return
        run_id = self.path.removeprefix("/v1/runs/")
        if not self.path.startswith("/v1/runs/") or run_id not in api.runs:
            self._answer(500, {"error": f"Unable to load function run: {run_id}", "status": 500})
            return
        status = api.runs[run_id]
        ended = None if status in ("Running", "Scheduled") else "2026-12-03T07:00:00Z"
        run = {
            "run_id": run_id,
            "run_started_at": "2026-12-03T06:50:00Z",
            "function_id": "0b5a1c9e-4f0e-4bb4-9d36-3c1f3f7f6d11",
            "function_version": 1,
            "environment_id": "5d0c7a3e-2c55-4a52-8d3e-51f0e1b5a0c2",
            "event_id": "01JF0000000000000000000000",
            "status": status,
            "ended_at": ended,
        }
        self._answer(200, {"data": run, "metadata": {"fetched_at": "2026-12-03T07:00:01Z"}})

    def _answer(self, status: int, body: dict) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format, *args):
        pass  # keep test output clean


class FakeInngestEventAPI:
    """Threaded HTTP fake of Inngest's event API on 127.0.0.1 (an ephemeral port, kept across
    down()/up() so the URL stays valid)."""

    def __init__(self) -> None:
        self.events: list[dict] = []
        self.runs: dict[str, str] = {}  # run id -> status, for GET /v1/runs/{runId}
        self.run_requests: list[str] = []
        self.signing_key = ""
        self.registrations: list[dict] = []
        self.posts = 0  # requests received in any mode, empty batches (readiness probes) included
        self.mode = UP
        self.fail_status = 500
        self.delay = 0.0
        self._lock = threading.Lock()
        self._release = threading.Event()
        self._handler = type("Handler", (_Handler,), {"api": self})
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        self.port = 0
        self._listen()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    # --- switching ------------------------------------------------------------------------------
    def up(self) -> None:
        self._release.set()  # let hanging requests go (they end without an answer)
        self.mode = UP
        if self._server is None:
            self._listen()

    def down(self) -> None:
        self._release.set()
        self.mode = DOWN
        self._stop_listening()

    def hang(self) -> None:
        self._release.clear()
        self.mode = HANGING
        if self._server is None:
            self._listen()

    def fail(self, status: int = 500) -> None:
        self._release.set()
        self.fail_status = status
        self.mode = FAILING
        if self._server is None:
            self._listen()

    def close(self) -> None:
        self._release.set()
        self._stop_listening()

    # --- reading --------------------------------------------------------------------------------
    def event_ids(self) -> list[str]:
        with self._lock:
            return [event.get("id") for event in self.events]

    def id_counts(self) -> Counter:
        return Counter(self.event_ids())

    def clear(self) -> None:
        with self._lock:
            self.events.clear()

    # --- plumbing -------------------------------------------------------------------------------
    def _listen(self) -> None:
        self._server = _Server(("127.0.0.1", self.port), self._handler)
        self.port = self._server.server_address[1]
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()

    def _stop_listening(self) -> None:
        if self._server is None:
            return
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)
        self._server = None
        self._thread = None
        # server_close() returns before the kernel has necessarily dropped the listener; make
        # "down" mean refused from the moment down() returns.
        with socket.socket() as probe:
            probe.settimeout(0.5)
            assert probe.connect_ex(("127.0.0.1", self.port)) != 0, "fake still listening"

    def __enter__(self) -> FakeInngestEventAPI:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


@pytest.fixture
def fake_inngest(settings):
    """A running fake event API; `settings.INNGEST_BASE_URL` points at it for the test."""
    with FakeInngestEventAPI() as api:
        settings.INNGEST_BASE_URL = api.url
        api.signing_key = settings.INNGEST_SIGNING_KEY
        yield api
