"""A fake Inngest event API (`POST /e/{event key}`) on 127.0.0.1, for tests and benchmarks.

    with FakeInngestEventAPI() as api:
        settings.INNGEST_BASE_URL = api.url
        ...
        api.down()      # stop listening: connection refused
        api.hang()      # accept connections, never answer (until up() or close())
        api.fail(500)   # answer every request with this status
        api.delay = 0.1 # seconds to wait before answering (to make concurrent senders overlap)
        api.up()        # accept and record events again
        api.events      # every event received while up, in order, duplicates included
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
        yield api
