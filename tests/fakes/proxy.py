"""A proxy in front of the live server, as a load balancer stands in front of Korai: it answers
what a test scripts (a status of its own, a dropped connection, or the live server's answer
lost on its way back, as when a worker dies right after its step ran) and forwards the rest.
The `proxy` fixture is shared by tests/conftest.py."""

from __future__ import annotations

import json
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import requests

DROP = "drop"  # close the connection without answering
FORWARD = "forward"  # forward, and answer what the live server answered
CUT = "cut"  # forward, then close the connection without passing the answer on


@dataclass
class Proxy:
    target: str
    url: str = ""
    script: deque = field(default_factory=deque)  # of DROP, FORWARD, CUT or (status, headers, body)
    requests: list = field(default_factory=list)  # (monotonic time, JSON body) of each request

    def answer(self, status: int, *, times: int = 1, headers=None, body: bytes = b"") -> None:
        self.script.extend([(status, headers or {}, body)] * times)

    def drop(self, *, times: int = 1) -> None:
        self.script.extend([DROP] * times)

    def forward(self, *, times: int = 1) -> None:
        self.script.extend([FORWARD] * times)

    def cut(self, *, times: int = 1) -> None:
        """The live server runs the request, but its answer never reaches the caller."""
        self.script.extend([CUT] * times)


def _handler(proxy: Proxy):
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            proxy.requests.append((time.monotonic(), json.loads(body)))
            reply = proxy.script.popleft() if proxy.script else None
            if reply == DROP:
                self.close_connection = True
                return
            if reply in (None, FORWARD, CUT):
                forwarded = requests.post(
                    proxy.target + self.path,
                    data=body,
                    headers={k: v for k, v in self.headers.items() if k.lower() != "host"},
                    timeout=60,
                )
                if reply == CUT:
                    self.close_connection = True
                    return
                headers = {
                    k: v
                    for k, v in forwarded.headers.items()
                    if k.lower() not in ("content-length", "transfer-encoding", "connection")
                }
                reply = (forwarded.status_code, headers, forwarded.content)
            status, headers, content = reply
            self.send_response(status)
            for key, value in headers.items():
                self.send_header(key, value)
            self.send_header("Content-Length", str(len(content)))
            self.end_headers()
            self.wfile.write(content)

        def log_message(self, *args):
            pass

    return Handler


@pytest.fixture
def proxy(live_server):
    proxy = Proxy(target=live_server.url)
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(proxy))
    server.daemon_threads = True
    proxy.url = f"http://127.0.0.1:{server.server_address[1]}"
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield proxy
    server.shutdown()
    server.server_close()
