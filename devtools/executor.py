"""Drives `/api/inngest` over real HTTP the way Inngest does: the tests' executor, and the engine
of the development executor (`python manage.py dev_executor`), so both are one piece of code.

    executor = InngestExecutor(base_url=live_server.url)
    run = executor.run("identify-clips", {"name": "video/identify.clips", "data": {...}})
    run.status, run.output, run.error, run.step_attempts["call-identify-clips-api"]

What it does, as the server does (its source files named where it matters):
- reads each function's attempts (retries + 1, retries cut to 20: `pkg/inngest/function_step.go`)
  and its on_failure function from the functions' own configs (`devtools.registry`), and sends
  `ctx.max_attempts` with every request;
- signs every request with the signing key when one is set (`X-Inngest-Signature: t=..&s=..`);
- keeps step memos keyed by the hashed step id and sends them back on every call;
- `206` ops: `StepRun` stores the step's data; `StepError` retries that step with attempt + 1
  and, once attempts are exhausted, memoizes the error so the code gets `StepError`;
  `StepFailed` memoizes the error at once; `StepPlanned` targets that step next;
- any other answer is a failed attempt (`devtools.answers`: a 500 of the function, a 401 or 404
  of the guard, a 2xx without the SDK's headers, a dropped connection, a timeout): retried with
  attempt + 1 unless `x-inngest-no-retry: true` or attempts are exhausted, then the run fails;
  every answer's status is kept in `run.responses` (None: no answer);
- waits between attempts as `backoff` says (`devtools.backoff`: the server's table, `retry-after`
  honoured; the tests' default scale waits nothing); every `retry-after` is recorded;
- when a run ends it emits `inngest/function.finished` and, for a failed or cancelled run,
  `inngest/function.failed` or `inngest/function.cancelled` (`pkg/execution/executor/
  finalize.go`), each to whatever function it triggers (the failed function's on_failure), as a
  run of its own with its own attempts; a failed handler is logged, not raised;
- a set `cancel` event stops the run before its next request (`status` "cancelled"); a request
  in flight is given up at once: its concurrency slot is freed, its answer dropped, and the
  driving thread lets it go `abandon_after` seconds later (the server drops it when the lease of
  its queue item next fails to renew, ≤ 15 s: `pkg/execution/queue/process.go`);
- `Sleep` ops are memoized as done and recorded in `run.sleeps`; the run waits until the sleep
  ends when `honour_sleeps` (the tests' default moves on at once; `on_sleep(name)` runs meanwhile);
- with `concurrency=StepConcurrency(fn)`, a function's keyed concurrency limits of 1 hold as
  Inngest holds them: one executing request (step) per key value, across every executor sharing
  that object; runs may still interleave between steps;
- every run is kept in `runs` (by run id), for the engine's REST API (`devtools.engine_api`).
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
from datetime import datetime

import requests
from django.conf import settings
from django.utils import timezone
from inngest._internal.net import sign_request

from devtools.answers import failure_of, new_ulid
from devtools.backoff import Backoff, seconds_until
from devtools.registry import FunctionSpec, Registry, served_registry

__all__ = ["Backoff", "ExecutorError", "InngestExecutor", "Run", "StepConcurrency"]

logger = logging.getLogger(__name__)

FAILED_EVENT = "inngest/function.failed"
CANCELLED_EVENT = "inngest/function.cancelled"
FINISHED_EVENT = "inngest/function.finished"


class ExecutorError(Exception):
    """The executor cannot go on: an op it does not know, or a run that never ends."""


@dataclass
class Run:
    run_id: str
    status: str = "running"  # then "completed", "failed" or "cancelled"
    output: object = None
    error: dict | None = None
    failure_output: object = None  # what the failure handler returned (when run inline)
    step_attempts: Counter = field(default_factory=Counter)  # step name -> executions
    steps: dict = field(default_factory=dict)  # step name -> memoized {"data"} or {"error"}
    requests: int = 0
    retry_after: list[str] = field(default_factory=list)
    sleeps: list[str] = field(default_factory=list)  # the `until` of each Sleep op
    responses: list[int | None] = field(default_factory=list)  # statuses; None: no answer
    function_id: str = ""
    event: dict = field(default_factory=dict)
    # The id the engine gave the event when it arrived (a ULID), not the event's own `id`.
    event_id: str = ""
    started_at: datetime | None = None
    ended_at: datetime | None = None
    reports: list[Run] = field(default_factory=list)  # the runs its end triggered (inline)


@dataclass
class _Progress:
    memos: dict = field(default_factory=dict)
    stack: list = field(default_factory=list)
    attempt: int = 0
    target: str | None = None


@dataclass
class _Answer:
    response: requests.Response | None = None
    problem: requests.RequestException | None = None
    # Set when the run was cancelled meanwhile: the request's own end, no longer waited for.
    abandoned: threading.Event | None = None


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


class InngestExecutor:
    def __init__(
        self,
        *,
        base_url: str,
        signing_key: str | None = None,
        max_attempts: int | None = None,
        redeliver: bool = False,
        max_requests: int = 200,
        backoff: Backoff | None = None,
        registry: Registry | None = None,
        timeout: float | tuple[float, float] = 30,
        concurrency: StepConcurrency | None = None,
        honour_sleeps: bool = False,
        on_sleep=None,
        before_retry=None,
        abandon_after: float = 0.0,
    ) -> None:
        self.url = base_url.rstrip("/") + "/api/inngest"
        self.signing_key = signing_key if signing_key is not None else settings.INNGEST_SIGNING_KEY
        # When None, each function's own `retries` decides (attempts = retries + 1).
        self.max_attempts = max_attempts
        self.redeliver = redeliver
        self.max_requests = max_requests
        self.backoff = backoff or Backoff()
        self.timeout = timeout
        self.concurrency = concurrency
        self.honour_sleeps = honour_sleeps
        # Called with the sleep's name while a run sleeps: what happens meanwhile.
        self.on_sleep = on_sleep or (lambda name: None)
        # Called with the attempt number before each retry, where the back-off lets time pass
        # (a test brings a dependency back there).
        self.before_retry = before_retry or (lambda attempt: None)
        # Seconds a cancelled run's request in flight is still let run before it is dropped.
        self.abandon_after = abandon_after
        self._registry = registry
        # Straight to the endpoint: no proxy settings from the environment (tests reach only
        # 127.0.0.1), and no per-request environment lookups.
        self.session = requests.Session()
        self.session.trust_env = False
        # The largest request body sent so far: what the step state costs on the wire.
        self.largest_body_bytes = 0
        # How long each request took, answered or not, in the order sent (seconds).
        self.request_seconds: list[float] = []
        self._last_signed: tuple[bytes, int] = (b"", 0)
        self.runs: dict[str, Run] = {}  # every run, by run id, in the order they started
        self._runs_lock = threading.Lock()

    @property
    def registry(self) -> Registry:
        if self._registry is None:
            self._registry = served_registry()
        return self._registry

    def recorded_runs(self) -> list[Run]:
        """Every run so far, those in progress included, in the order they started."""
        with self._runs_lock:
            return list(self.runs.values())

    # --- one run, start to end ------------------------------------------------------------
    def run(
        self,
        fn_id: str,
        event: dict,
        *,
        run_id: str | None = None,
        cancel: threading.Event | None = None,
        event_id: str | None = None,
        emit=None,
        max_attempts: int | None = None,
    ) -> Run:
        """Drive one run of `fn_id` for `event` to its end. `emit` takes each event the run's
        end sends; by default the runs they trigger are driven here, one after the other."""
        spec = self.registry.get(fn_id)
        attempts = max_attempts or self.max_attempts or spec.max_attempts
        event = {"id": uuid.uuid4().hex, "ts": int(time.time() * 1000), "data": {}, **event}
        run = Run(
            run_id=run_id or new_ulid(),
            function_id=spec.id,
            event=event,
            event_id=event_id or new_ulid(),
            started_at=timezone.now(),
        )
        with self._runs_lock:
            self.runs[run.run_id] = run
        try:
            abandoned = self._drive(spec, run, attempts, cancel)
        finally:
            if run.status == "running":  # the executor itself gave up (ExecutorError)
                run.status = "failed"
            run.ended_at = timezone.now()
        self._report(spec, run, emit or self.deliver)
        if abandoned is not None:
            abandoned.wait(self.abandon_after)
        return run

    def _drive(
        self, spec: FunctionSpec, run: Run, max_attempts: int, cancel: threading.Event | None
    ) -> threading.Event | None:
        """Request after request until the run ends; returns a cancelled request's end."""
        progress = _Progress()
        while run.requests < self.max_requests:
            if cancel is not None and cancel.is_set():
                run.status = "cancelled"
                return None
            answer = self._send(spec.id, run, progress, max_attempts, cancel)
            run.requests += 1
            progress.target = None
            if answer.abandoned is not None:
                # Cancelled while the request ran: Inngest drops what the step answers.
                run.status = "cancelled"
                return answer.abandoned
            response = answer.response
            run.responses.append(None if response is None else response.status_code)
            failure = failure_of(response, answer.problem)
            if failure is None and response.status_code == 206:
                ops = response.json()
                outcome = self._apply_ops(spec, run, progress, ops, max_attempts, cancel)
                if outcome == "retry" and not self._pause(progress.attempt, None, cancel):
                    outcome = "cancelled"
                if outcome == "cancelled":
                    run.status = "cancelled"
                    return None
                continue
            if failure is None:
                run.status, run.output = "completed", response.json()
                return None
            retry_after = response.headers.get("retry-after") if response is not None else None
            if retry_after:
                run.retry_after.append(retry_after)
            if not failure.retriable or progress.attempt + 1 >= max_attempts:
                run.status, run.error = "failed", failure.error
                return None
            progress.attempt += 1
            logger.info(
                "%s run %s: attempt %d failed (%s), attempt %d of %d next",
                spec.id, run.run_id, progress.attempt, failure.error["message"][:200],
                progress.attempt + 1, max_attempts,
            )  # fmt: skip
            if not self._pause(progress.attempt, retry_after, cancel):
                run.status = "cancelled"
                return None
        raise ExecutorError(f"run {run.run_id} did not finish in {self.max_requests} requests")

    def _apply_ops(
        self,
        spec: FunctionSpec,
        run: Run,
        progress: _Progress,
        ops: list[dict],
        max_attempts: int,
        cancel: threading.Event | None,
    ) -> str:
        """Take a 206's ops: "next" (call again), "retry" (a step failed) or "cancelled"."""
        outcome = "next"
        for op in ops:
            hashed, name = op["id"], op.get("displayName") or op.get("name") or op["id"]
            kind = op["op"]
            if kind == "StepPlanned":
                progress.target = hashed
                continue
            if kind == "Sleep":
                until = op.get("name", "")
                run.sleeps.append(until)
                self.on_sleep(name)
                if self.honour_sleeps and not _wait(_sleep_seconds(until), cancel):
                    return "cancelled"
                _memoize(run, progress, name, hashed, {"data": None})
                continue
            run.step_attempts[name] += 1
            if kind == "StepRun":
                memo = {"data": op.get("data")}
            elif kind == "StepFailed" or (
                kind == "StepError" and progress.attempt + 1 >= max_attempts
            ):
                memo = {"error": op["error"]}
            elif kind == "StepError":
                progress.attempt += 1
                outcome = "retry"
                logger.info(
                    "%s run %s: step %s failed, attempt %d of %d next",
                    spec.id, run.run_id, name, progress.attempt + 1, max_attempts,
                )  # fmt: skip
                continue
            else:
                raise ExecutorError(f"unsupported op {kind}: {op}")
            progress.attempt = 0
            _memoize(run, progress, name, hashed, memo)
        return outcome

    def _pause(self, attempt: int, retry_after: str | None, cancel) -> bool:
        """Wait before attempt `attempt`; False if the run was cancelled meanwhile."""
        self.before_retry(attempt)
        return _wait(self.backoff.delay(attempt, retry_after), cancel)

    # --- the end of a run -----------------------------------------------------------------
    def _report(self, spec: FunctionSpec, run: Run, emit) -> None:
        """Send what the server sends when a run ends (`finalize.go`): `function.finished`, then
        `function.failed` or `function.cancelled` (their id is the run id, so a second report of
        one run starts nothing new). Runs started by these reports are not reported on."""
        if run.event.get("name") in (FAILED_EVENT, FINISHED_EVENT):
            return
        data = {
            "function_id": spec.id,
            "run_id": run.run_id,
            "event": run.event,
            "events": [run.event],
            "_inngest": {"status": run.status.capitalize()},
        }
        if run.error is not None:
            data["error"] = run.error
        if run.output is not None:
            data["result"] = run.output
        sent_at = int(time.time() * 1000)
        reports = [{"id": new_ulid(), "name": FINISHED_EVENT, "ts": sent_at, "data": data}]
        name = {"failed": FAILED_EVENT, "cancelled": CANCELLED_EVENT}.get(run.status)
        if name:
            reports.append({"id": run.run_id, "name": name, "ts": sent_at, "data": data})
        for report in reports:
            started = emit(report) or []
            run.reports.extend(started)
            if report["name"] == FAILED_EVENT and started:
                run.failure_output = started[-1].output

    def deliver(self, event: dict) -> list[Run]:
        """Drive, one after the other, every run `event` triggers, each with its own function's
        attempts. A run that does not complete is logged: nothing waits on a failure handler."""
        runs = []
        for spec in self.registry.triggered_by(event):
            run = self.run(spec.id, event, max_attempts=spec.max_attempts)
            if run.status != "completed":
                logger.warning(
                    "%s run %s for %s ended %s: %s",
                    spec.id, run.run_id, event["name"], run.status,
                    (run.error or {}).get("message"),
                )  # fmt: skip
            runs.append(run)
        return runs

    def fail(self, fn_id: str, event: dict, run: Run) -> object:
        """Report `run` of `fn_id` for `event` as failed, as the server does once it gives up on
        a run: its failure handler runs here. Returns what the handler returned."""
        spec = self.registry.get(fn_id)
        run.function_id, run.event, run.status = spec.id, event, "failed"
        self._report(spec, run, self.deliver)
        return run.failure_output

    def cancelled(self, fn_id: str, event: dict, run: Run) -> None:
        """Report `run` of `fn_id` for `event` as cancelled in the engine (its dashboard, a bulk
        cancel): the functions on `inngest/function.cancelled` run here."""
        spec = self.registry.get(fn_id)
        run.function_id, run.event, run.status = spec.id, event, "cancelled"
        self._report(spec, run, self.deliver)

    # --- wire -----------------------------------------------------------------------------
    def _send(
        self,
        fn_id: str,
        run: Run,
        progress: _Progress,
        max_attempts: int,
        cancel: threading.Event | None,
    ) -> _Answer:
        """One request of the run, holding its concurrency slot; a cancel frees the slot at once
        and leaves the request to finish alone (the step on the Django side goes on)."""
        body = {
            "event": run.event,
            "events": [run.event],
            "steps": progress.memos,
            "ctx": {
                "run_id": run.run_id,
                "attempt": progress.attempt,
                "disable_immediate_execution": False,
                "max_attempts": max_attempts,
                "stack": {"stack": list(progress.stack)},
            },
            "use_api": False,
        }
        params = {"fnId": fn_id, "stepId": progress.target or "step"}
        with contextlib.ExitStack() as slot:
            if self.concurrency:
                slot.enter_context(self.concurrency.hold(run.event))
            if cancel is None:
                return self._deliver(body, params)
            answers: list[_Answer] = []
            done = threading.Event()

            def deliver() -> None:
                answers.append(self._deliver(body, params))
                done.set()

            threading.Thread(target=deliver, name=f"request-{run.run_id}", daemon=True).start()
            while not done.wait(0.02):
                if cancel.is_set():
                    break
            return _Answer(abandoned=done) if cancel.is_set() else answers[0]

    def _deliver(self, body: dict, params: dict) -> _Answer:
        try:
            response = self.post(body, params=params)
            if self.redeliver and response.status_code in (200, 206):
                response = self.post(body, params=params)
        except requests.RequestException as exc:
            return _Answer(problem=exc)
        return _Answer(response=response)

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
        started = time.monotonic()
        try:
            return self.session.post(
                self.url, data=raw, params=params, headers=headers, timeout=self.timeout
            )
        finally:
            self.request_seconds.append(time.monotonic() - started)


def _memoize(run: Run, progress: _Progress, name: str, hashed: str, memo: dict) -> None:
    progress.memos[hashed] = memo
    progress.stack.append(hashed)
    run.steps[name] = memo


def _wait(seconds: float, cancel: threading.Event | None) -> bool:
    """Sleep `seconds`; False if the run was cancelled meanwhile."""
    if cancel is None:
        if seconds > 0:
            time.sleep(seconds)
        return True
    return not cancel.wait(seconds) if seconds > 0 else not cancel.is_set()


def _sleep_seconds(until: str) -> float:
    """Seconds until a Sleep op's end (its `name`: an ISO time), 0 if unreadable or past."""
    seconds = seconds_until(until) if until else None
    return max(seconds or 0.0, 0.0)
