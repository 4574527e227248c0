"""Drives `/api/inngest` over real HTTP the way Inngest does: the tests' executor, and the engine
of the development executor (`python manage.py dev_executor`), so both are one piece of code.

    executor = InngestExecutor(base_url=live_server.url)
    run = executor.run("identify-clips", {"name": "video/identify.clips", "data": {...}})
    run.status, run.output, run.error, run.step_attempts["call-identify-clips-api"]

What it does, as Inngest does:
- reads each function's attempts and its on_failure function from the functions' own configs
  (`devtools.registry`);
- signs every request with the signing key when one is set (`X-Inngest-Signature: t=..&s=..`);
- keeps step memos keyed by the hashed step id and sends them back on every call;
- `206` ops: `StepRun` stores the step's data; `StepError` retries that step with attempt + 1
  and, once attempts are exhausted, memoizes the error so the code gets `StepError`;
  `StepFailed` memoizes the error at once; `StepPlanned` targets that step next;
- `500` (or no answer at all) is a function-level error: retried with attempt + 1 unless
  `x-inngest-no-retry: true` or attempts are exhausted;
- waits between attempts as `backoff` says (the tests' default waits nothing; a `retry-after`
  header is always recorded, and waited for when `backoff.honour_retry_after`);
- on exhaustion it sends `inngest/function.failed` to the functions it triggers (on_failure);
- a set `cancel` event stops driving the run before its next request (`status` "cancelled");
- `Sleep` ops are memoized as done and recorded in `run.sleeps`; the run waits until the sleep
  ends when `honour_sleeps` (the tests' default moves on at once; `on_sleep(name)` runs meanwhile);
- with `concurrency=StepConcurrency(fn)`, a function's keyed concurrency limits of 1 hold as
  Inngest holds them: one executing request (step) per key value, across every executor sharing
  that object; runs may still interleave between steps.
With `redeliver=True` every request is sent twice (a lost answer, then Inngest's retry), so each
step body runs twice; the second answer is the one kept. Like Inngest, every delivery is signed
afresh: a redelivery gets a later timestamp, so its signature differs from the first one (the
endpoint refuses a repeated signature as a replay).
"""

from __future__ import annotations

import contextlib
import json
import logging
import threading
import time
import uuid
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime

import requests
from django.conf import settings
from inngest._internal.net import sign_request

from devtools.registry import Registry, served_registry

logger = logging.getLogger(__name__)

FAILED_EVENT = "inngest/function.failed"


class ExecutorError(Exception):
    """The endpoint answered something Inngest would not accept (401, 404, garbage)."""


@dataclass
class Run:
    run_id: str
    status: str = "running"  # then "completed", "failed" or "cancelled"
    output: object = None
    error: dict | None = None
    failure_output: object = None
    step_attempts: Counter = field(default_factory=Counter)  # step name -> executions
    steps: dict = field(default_factory=dict)  # step name -> memoized {"data"} or {"error"}
    requests: int = 0
    retry_after: list[str] = field(default_factory=list)
    sleeps: list[str] = field(default_factory=list)  # the `until` of each Sleep op


class StepConcurrency:
    """A function's concurrency limits of 1 with a key (`event.data.videoId`), enforced as
    Inngest does: per key value, one request (one executing step) at a time."""

    def __init__(self, function) -> None:
        limits = function.get_config("http://127.0.0.1/api/inngest").main.concurrency or []
        self.keys = [limit.key for limit in limits if limit.key and limit.limit == 1]
        self._locks: defaultdict[str, threading.Lock] = defaultdict(threading.Lock)
        self._guard = threading.Lock()

    @contextlib.contextmanager
    def hold(self, event: dict):
        with self._guard:
            locks = [self._locks[f"{key}={_evaluate(key, event)}"] for key in sorted(self.keys)]
        with contextlib.ExitStack() as stack:
            for lock in locks:  # always in the same order: no deadlock between keys
                stack.enter_context(lock)
            yield


def _evaluate(expression: str, event: dict) -> object:
    """A dotted key expression (`event.data.videoId`) on the event."""
    value: object = {"event": event}
    for part in expression.split("."):
        value = value.get(part) if isinstance(value, dict) else None
    return value


@dataclass(frozen=True)
class Backoff:
    """How long to wait before attempt n (n >= 1): `base * 2**(n-1)` seconds, at most `cap`.
    With `honour_retry_after`, a function's `retry-after` is waited instead (also capped)."""

    base: float = 0.0
    cap: float = 0.0
    honour_retry_after: bool = False

    def delay(self, attempt: int, retry_after: str | None = None) -> float:
        if self.honour_retry_after and retry_after:
            wait = _seconds_until(retry_after)
            if wait is not None:
                return min(max(wait, 0.0), self.cap)
        return min(self.base * 2 ** max(attempt - 1, 0), self.cap)


def _seconds_until(retry_after: str) -> float | None:
    if retry_after.isdigit():
        return float(retry_after)
    try:
        when = datetime.fromisoformat(retry_after.replace("Z", "+00:00"))
    except ValueError:
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return (when - datetime.now(UTC)).total_seconds()


class InngestExecutor:
    def __init__(
        self,
        *,
        base_url: str,
        signing_key: str | None = None,
        max_attempts: int | None = None,
        redeliver: bool = False,
        max_requests: int = 200,
        backoff: Backoff = Backoff(),
        registry: Registry | None = None,
        timeout: float | tuple[float, float] = 30,
        concurrency: StepConcurrency | None = None,
        honour_sleeps: bool = False,
        on_sleep=None,
        before_retry=None,
    ) -> None:
        self.url = base_url.rstrip("/") + "/api/inngest"
        self.signing_key = signing_key if signing_key is not None else settings.INNGEST_SIGNING_KEY
        # When None, each function's own `retries` decides (attempts = retries + 1).
        self.max_attempts = max_attempts
        self.redeliver = redeliver
        self.max_requests = max_requests
        self.backoff = backoff
        self.timeout = timeout
        self.concurrency = concurrency
        self.honour_sleeps = honour_sleeps
        # Called with the sleep's name while a run sleeps: what happens meanwhile.
        self.on_sleep = on_sleep or (lambda name: None)
        # Called with the attempt number before each retry, where the back-off lets time pass
        # (a test brings a dependency back there).
        self.before_retry = before_retry or (lambda attempt: None)
        self._registry = registry
        # Straight to the endpoint: no proxy settings from the environment (tests reach only
        # 127.0.0.1), and no per-request environment lookups.
        self.session = requests.Session()
        self.session.trust_env = False
        # The largest request body sent so far: what the step state costs on the wire.
        self.largest_body_bytes = 0
        self._last_signed: tuple[bytes, int] = (b"", 0)

    @property
    def registry(self) -> Registry:
        if self._registry is None:
            self._registry = served_registry()
        return self._registry

    # --- one run, start to end ------------------------------------------------------------
    def run(
        self,
        fn_id: str,
        event: dict,
        *,
        run_id: str | None = None,
        cancel: threading.Event | None = None,
    ) -> Run:
        spec = self.registry.get(fn_id)
        max_attempts = self.max_attempts or spec.max_attempts
        event = {"id": uuid.uuid4().hex, "ts": int(time.time() * 1000), "data": {}, **event}
        run = Run(run_id=run_id or uuid.uuid4().hex)
        memos: dict[str, dict] = {}
        stack: list[str] = []
        attempt = 0
        target: str | None = None

        while run.requests < self.max_requests:
            if cancel is not None and cancel.is_set():
                run.status = "cancelled"
                return run
            unreachable = None
            try:
                response = self._call(
                    spec.id,
                    event,
                    run_id=run.run_id,
                    steps=memos,
                    stack=stack,
                    attempt=attempt,
                    max_attempts=max_attempts,
                    step_id=target or "step",
                )
            except requests.RequestException as exc:
                # Refused or timed out: Inngest counts that as a failed attempt and retries.
                response = None
                unreachable = {"name": type(exc).__name__, "message": f"{self.url}: {exc}"}
                unreachable["error"] = unreachable["message"]
            run.requests += 1
            target = None
            if cancel is not None and cancel.is_set():
                # Cancelled while the request ran: Inngest drops what the step answered.
                run.status = "cancelled"
                return run
            if response is not None and response.status_code == 200:
                run.status, run.output = "completed", response.json()
                return run
            if response is not None and response.status_code == 206:
                retry = False
                for op in response.json():
                    hashed, name = op["id"], op.get("displayName") or op.get("name") or op["id"]
                    kind = op["op"]
                    if kind == "StepPlanned":
                        target = hashed
                        continue
                    if kind == "Sleep":
                        until = op.get("name", "")
                        run.sleeps.append(until)
                        self.on_sleep(name)
                        if self.honour_sleeps and not _wait(_sleep_seconds(until), cancel):
                            run.status = "cancelled"
                            return run
                        memos[hashed] = {"data": None}
                        stack.append(hashed)
                        run.steps[name] = memos[hashed]
                        continue
                    run.step_attempts[name] += 1
                    if kind == "StepRun":
                        memos[hashed] = {"data": op.get("data")}
                        attempt = 0
                    elif kind == "StepFailed" or (
                        kind == "StepError" and attempt + 1 >= max_attempts
                    ):
                        memos[hashed] = {"error": op["error"]}
                        attempt = 0
                    elif kind == "StepError":
                        attempt += 1
                        retry = True
                        logger.info(
                            "%s run %s: step %s failed, attempt %d of %d next",
                            spec.id, run.run_id, name, attempt + 1, max_attempts,
                        )  # fmt: skip
                        continue
                    else:
                        raise ExecutorError(f"unsupported op {kind}: {op}")
                    stack.append(hashed)
                    run.steps[name] = memos[hashed]
                if retry:
                    self.before_retry(attempt)
                    if not _wait(self.backoff.delay(attempt), cancel):
                        run.status = "cancelled"
                        return run
                continue
            if response is None or response.status_code == 500:
                retry_after = None
                if response is not None and "retry-after" in response.headers:
                    retry_after = response.headers["retry-after"]
                    run.retry_after.append(retry_after)
                no_retry = (
                    response is not None and response.headers.get("x-inngest-no-retry") == "true"
                )
                if not no_retry and attempt + 1 < max_attempts:
                    attempt += 1
                    self.before_retry(attempt)
                    if not _wait(self.backoff.delay(attempt, retry_after), cancel):
                        run.status = "cancelled"
                        return run
                    continue
                run.status = "failed"
                run.error = _error_of(response) if response is not None else unreachable
                run.failure_output = self.fail(spec.id, event, run)
                return run
            raise ExecutorError(f"{response.status_code} from {self.url}: {response.text[:500]}")
        raise ExecutorError(f"run {run.run_id} did not finish in {self.max_requests} requests")

    # --- wire -----------------------------------------------------------------------------
    def _call(
        self,
        fn_id: str,
        event: dict,
        *,
        run_id: str,
        steps: dict,
        stack: list[str],
        attempt: int,
        max_attempts: int,
        step_id: str = "step",
    ) -> requests.Response:
        body = {
            "event": event,
            "events": [event],
            "steps": steps,
            "ctx": {
                "run_id": run_id,
                "attempt": attempt,
                "disable_immediate_execution": False,
                "max_attempts": max_attempts,
                "stack": {"stack": list(stack)},
            },
            "use_api": False,
        }
        held = self.concurrency.hold(event) if self.concurrency else contextlib.nullcontext()
        with held:
            response = self.post(body, params={"fnId": fn_id, "stepId": step_id})
            if self.redeliver and response.status_code in (200, 206):
                response = self.post(body, params={"fnId": fn_id, "stepId": step_id})
        return response

    def post(
        self, body: dict, *, params: dict, signed_at: int | None = None, key: str | None = None
    ) -> requests.Response:
        """POST a body as Inngest would; `signed_at`/`key` forge stale or foreign signatures."""
        raw = json.dumps(body).encode()
        self.largest_body_bytes = max(self.largest_body_bytes, len(raw))
        headers = {"Content-Type": "application/json"}
        signing_key = key if key is not None else self.signing_key
        if signed_at is None:
            signed_at = int(time.time())
            last_raw, last_at = self._last_signed
            if raw == last_raw and signed_at <= last_at:
                signed_at = last_at + 1  # a redelivery within the same second: a new signature
            self._last_signed = (raw, signed_at)
        if signing_key:
            headers["X-Inngest-Signature"] = sign_request(raw, signing_key, signed_at)
        return self.session.post(
            self.url, data=raw, params=params, headers=headers, timeout=self.timeout
        )

    def fail(self, fn_id: str, event: dict, run: Run) -> object:
        """Send `inngest/function.failed` for `run` of `fn_id` to the functions it triggers: the
        failed function's on_failure (its config's trigger matches `function_id`). Returns the
        last one's output."""
        spec = self.registry.get(fn_id)
        failed = {
            "id": uuid.uuid4().hex,
            "name": FAILED_EVENT,
            "ts": int(time.time() * 1000),
            "data": {
                "error": run.error,
                "function_id": spec.id,
                "run_id": run.run_id,
                "event": event,
            },
        }
        output = None
        for handler in self.registry.triggered_by(failed):
            handled = self.run(handler.id, failed)
            if handled.status != "completed":
                raise ExecutorError(f"{handler.id} ended {handled.status}: {handled.error}")
            output = handled.output
        return output


def _wait(seconds: float, cancel: threading.Event | None) -> bool:
    """Sleep `seconds`; False if the run was cancelled meanwhile."""
    if cancel is None:
        if seconds > 0:
            time.sleep(seconds)
        return True
    return not cancel.wait(seconds) if seconds > 0 else not cancel.is_set()


def _sleep_seconds(until: str) -> float:
    """Seconds until a Sleep op's end (its `name`: an ISO time), 0 if unreadable or past."""
    seconds = _seconds_until(until) if until else None
    return max(seconds or 0.0, 0.0)


def _error_of(response: requests.Response) -> dict:
    try:
        body = response.json()
    except ValueError:
        return {"name": "Error", "message": response.text, "error": response.text}
    if not isinstance(body, dict):
        body = {"message": str(body)}
    message = body.get("message", "")
    return {
        "name": body.get("name", "Error"),
        "message": message,
        "error": message,
        "stack": body.get("stack"),
    }
