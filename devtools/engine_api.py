"""The engine's REST API for runs, in the Inngest server's shapes, backed by the executor's record
of runs (`InngestExecutor.runs`):

    GET /v1/events/{eventId}/runs   the runs an event started; `eventId` is the engine's id of
                                    the event (a ULID, what the event API answers in `ids`),
                                    not the event's own `id`
    GET /v1/runs/{runId}            one run

Read from the server's source: the routes (`pkg/api/apiv1/apiv1.go`), the handlers (`runs.go`,
`events.go`: a malformed ULID is a 400, a run it cannot load a 500), the envelope
`{"data", "metadata": {"fetched_at", "cached_until"}}` (`WriteCachedResponse`), a run's fields
(`pkg/cqrs/function_runs.go`, `FunctionRun`; `function_id` is the function's UUID, not its
slug: `pkg/inngest/function.go`, `DeterministicUUID`), errors as `{"error", "data", "status"}`
(`pkg/publicerr`). Authentication (`pkg/authn/signing_key_strategy.go`): `Authorization: Bearer
<key>`, the signing key itself or its hash (sha256 of its hex bytes, what the SDK sends), with
or without its `signkey-<env>-` prefix; a 401 `Authentication failed` otherwise; no signing
key, no check."""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import threading
import urllib.parse
import uuid
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from devtools.executor import InngestExecutor, Run

STATUS = {
    "running": "Running",
    "completed": "Completed",
    "failed": "Failed",
    "cancelled": "Cancelled",
}
DEV_ENVIRONMENT_ID = "00000000-0000-4000-b000-000000000000"  # pkg/consts/devserver.go
_ULID = re.compile(r"^[0-9A-HJKMNP-TV-Z]{26}$", re.IGNORECASE)
_PREFIX = re.compile(r"^signkey-\w+-")
_ROUTES = (
    (re.compile(r"^/v1/events/([^/]+)/runs$"), "event"),
    (re.compile(r"^/v1/runs/([^/]+)$"), "run"),
)


class EngineAPI:
    def __init__(
        self,
        executor: InngestExecutor,
        *,
        signing_key: str | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
    ) -> None:
        self.executor = executor
        self.signing_key = signing_key
        self._server = ThreadingHTTPServer((host, port), _handler(self))
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def start(self) -> EngineAPI:
        self._thread.start()
        return self

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def authorized(self, header: str) -> bool:
        if not self.signing_key:
            return True
        given = _PREFIX.sub("", header[7:]) if header[:7].upper() == "BEARER " else ""
        trusted = _PREFIX.sub("", self.signing_key)
        hashed = hashlib.sha256(bytes.fromhex(trusted)).hexdigest()  # the SDK's form
        return bool(given) and any(hmac.compare_digest(given, key) for key in (trusted, hashed))

    def answer(self, path: str) -> tuple[int, object]:
        for pattern, kind in _ROUTES:
            found = pattern.match(path)
            if found:
                value = urllib.parse.unquote(found[1])
                return self._event_runs(value) if kind == "event" else self._run(value)
        return 404, _error(404, "Not Found")

    def _event_runs(self, event_id: str) -> tuple[int, object]:
        if not _ULID.match(event_id):
            return 400, _error(400, f"Invalid event ID: {event_id}")
        runs = [r for r in self.executor.recorded_runs() if r.event_id.upper() == event_id.upper()]
        return 200, _envelope([self._shape(run) for run in runs], cached=15)

    def _run(self, run_id: str) -> tuple[int, object]:
        if not _ULID.match(run_id):
            return 400, _error(400, f"Invalid run ID: {run_id}")
        runs = [r for r in self.executor.recorded_runs() if r.run_id.upper() == run_id.upper()]
        run = runs[0] if runs else None
        if run is None:
            return 500, _error(500, f"Unable to load function run: {run_id}")
        return 200, _envelope(self._shape(run), cached=3)

    def _shape(self, run: Run) -> dict:
        spec = self.executor.registry.get(run.function_id)
        uri = f"{self.executor.url}?fnId={spec.id}&stepId=step"
        shaped = {
            "run_id": run.run_id,
            "run_started_at": _time(run.started_at),
            "function_id": str(uuid.uuid5(uuid.NAMESPACE_OID, spec.name + uri)),
            "function_version": 1,
            "environment_id": DEV_ENVIRONMENT_ID,
            "event_id": run.event_id,
            "status": STATUS[run.status],
            "ended_at": _time(run.ended_at),
        }
        output = run.error if run.status == "failed" else run.output
        if output is not None:
            shaped["output"] = output
        return shaped


def _handler(api: EngineAPI):
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):
            if not api.authorized(self.headers.get("Authorization") or ""):
                self._send(401, b"Authentication failed\n", "text/plain; charset=utf-8")
                return
            status, body = api.answer(self.path.split("?", 1)[0])
            self._send(status, json.dumps(body).encode() + b"\n", "application/json")

        def _send(self, status: int, body: bytes, content_type: str) -> None:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    return Handler


def _envelope(data: object, *, cached: int) -> dict:
    now = datetime.now(UTC)
    until = now + timedelta(seconds=cached)
    return {"data": data, "metadata": {"fetched_at": _time(now), "cached_until": _time(until)}}


def _error(status: int, message: str) -> dict:
    return {"error": message, "data": None, "status": status}


def _time(moment: datetime | None) -> str | None:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z") if moment else None
