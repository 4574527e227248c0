"""What the fault-injection suite (`test_fault_injection.py`) puts between Korai and its engine:

- `CuttingProxy`, between the executor and the live server's /api/inngest: it drops a request's
  connection before forwarding it (a dropped connection), or forwards it and cuts the
  connection while the step runs (a steps-pool worker killed mid-step, as the engine sees it:
  no answer, so the step is retried while the first execution may still be at work);
- `EngineInbox`, between the event API (the `fake_inngest` fake) and the development executor:
  the events Inngest accepted, handed to the executor late, out of order and some twice.

Both draw from one `random.Random` and count what they injected in a shared `Counter`."""

from __future__ import annotations

import contextlib
import random
import threading
import time
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import requests

DROPPED = "connection dropped"
KILLED = "worker killed mid-step"
DUPLICATED = "event duplicated"
REORDERED = "events reordered"
DELAYED = "event delayed"


class Faults:
    """The suite's random source and its tally of faults by kind, shared across threads."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self.counts: Counter = Counter()
        self._lock = threading.Lock()

    def chance(self, probability: float) -> bool:
        with self._lock:
            return self.rng.random() < probability

    def uniform(self, low: float, high: float) -> float:
        with self._lock:
            return self.rng.uniform(low, high)

    def note(self, kind: str, n: int = 1) -> None:
        with self._lock:
            self.counts[kind] += n


class CuttingProxy:
    """An HTTP proxy to `target` that cuts requests at random while `cutting`."""

    def __init__(self, target: str, faults: Faults, *, drop: float, kill: float) -> None:
        self.target, self.faults, self.drop, self.kill = target.rstrip("/"), faults, drop, kill
        self.cutting = True
        self.session = requests.Session()
        self.session.trust_env = False
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self))
        self._server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self.session.close()

    def forward(self, path: str, body: bytes, headers: dict) -> requests.Response:
        return requests.post(
            self.target + path,
            data=body,
            headers={k: v for k, v in headers.items() if k.lower() != "host"},
            timeout=60,
        )


def _handler(proxy: CuttingProxy):
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            headers = dict(self.headers.items())
            if proxy.cutting and proxy.faults.chance(proxy.drop):
                proxy.faults.note(DROPPED)
                self.close_connection = True
                return
            if proxy.cutting and proxy.faults.chance(proxy.kill):
                proxy.faults.note(KILLED)
                # The step runs on; its answer never reaches the engine.
                threading.Thread(
                    target=_quietly, args=(proxy.forward, self.path, body, headers), daemon=True
                ).start()
                time.sleep(proxy.faults.uniform(0.0, 0.05))
                self.close_connection = True
                return
            try:
                forwarded = proxy.forward(self.path, body, headers)
            except requests.RequestException:
                self.close_connection = True
                return
            self.send_response(forwarded.status_code)
            for key, value in forwarded.headers.items():
                if key.lower() not in ("content-length", "transfer-encoding", "connection"):
                    self.send_header(key, value)
            self.send_header("Content-Length", str(len(forwarded.content)))
            self.end_headers()
            self.wfile.write(forwarded.content)

        def log_message(self, *args):
            pass

    return Handler


def _quietly(call, *args) -> None:
    with contextlib.suppress(requests.RequestException):
        call(*args)


class EngineInbox:
    """The events the event API accepted (`fake_inngest.events`), not yet handed to the
    engine. `pump` hands some of them over, shuffled, some twice, the rest later."""

    def __init__(self, event_api, faults: Faults) -> None:
        self.event_api, self.faults = event_api, faults
        self.waiting: list[dict] = []
        self._seen = 0  # of event_api.events

    def take_new(self) -> None:
        with self.event_api._lock:
            new = self.event_api.events[self._seen :]
            self._seen += len(new)
        for event in new:
            self.waiting.append({k: v for k, v in event.items() if k != "event_key"})

    def pump(self, dev, *, take: float = 0.7) -> int:
        """Hand each waiting event over with probability `take` (the others are delayed), in a
        shuffled order, each with a small chance of being handed over twice."""
        self.take_new()
        now, later = [], []
        for event in self.waiting:
            (now if self.faults.chance(take) else later).append(event)
        self.faults.note(DELAYED, len(later))
        for event in list(now):
            if self.faults.chance(0.15):
                now.append(event)
                self.faults.note(DUPLICATED)
        if len(now) > 1:
            before = list(now)
            with self.faults._lock:
                self.faults.rng.shuffle(now)
            if now != before:
                self.faults.note(REORDERED)
        self.waiting = later
        for event in now:
            dev.dispatch(event)
        return len(now)

    def flush(self, dev) -> int:
        """Hand everything over, in the order it arrived: what the engine ends up receiving."""
        self.take_new()
        events, self.waiting = self.waiting, []
        for event in events:
            dev.dispatch(event)
        return len(events)
