"""A test-side stand-in for the Inngest executor: drives `/api/inngest` over real HTTP the way
Inngest does, so the functions are tested through the SDK's wire protocol (signatures, JSON
round trips, memoized steps, retries, on_failure) rather than in-process.

    executor = InngestExecutor(base_url=live_server.url)
    run = executor.run("identify-clips", {"name": "video/identify.clips", "data": {...}})
    run.status, run.output, run.error, run.step_attempts["call-identify-clips-api"]

What it does, as Inngest does:
- signs every request with the signing key (`X-Inngest-Signature: t=..&s=..`);
- keeps step memos keyed by the hashed step id and sends them back on every call;
- `206` ops: `StepRun` stores the step's data; `StepError` retries that step with attempt + 1
  and, once attempts are exhausted, memoizes the error so the code gets `StepError`;
  `StepFailed` memoizes the error at once; `StepPlanned` targets that step next;
- `500` is a function-level error: retried with attempt + 1 unless `x-inngest-no-retry: true`
  or attempts are exhausted (a `retry-after` header is recorded, not waited for);
- on exhaustion it calls `<app>-<fn>-failure` with `inngest/function.failed`.
With `redeliver=True` every request is sent twice (a lost answer, then Inngest's retry), so each
step body runs twice; the second answer is the one kept.
"""

from __future__ import annotations

import json
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field

import requests
from django.conf import settings
from inngest._internal.net import sign_request

APP_ID = "korai-app"


class ExecutorError(Exception):
    """The endpoint answered something Inngest would not accept (401, 404, garbage)."""


@dataclass
class Run:
    run_id: str
    status: str = "running"  # then "completed" or "failed"
    output: object = None
    error: dict | None = None
    failure_output: object = None
    step_attempts: Counter = field(default_factory=Counter)  # step name -> executions
    steps: dict = field(default_factory=dict)  # step name -> memoized {"data"} or {"error"}
    requests: int = 0
    retry_after: list[str] = field(default_factory=list)


class InngestExecutor:
    def __init__(
        self,
        *,
        base_url: str,
        signing_key: str | None = None,
        max_attempts: int | None = None,
        redeliver: bool = False,
        max_requests: int = 200,
    ) -> None:
        self.url = base_url.rstrip("/") + "/api/inngest"
        self.signing_key = signing_key if signing_key is not None else settings.INNGEST_SIGNING_KEY
        # Inngest's `retries` counts retries after the first attempt.
        self.max_attempts = max_attempts or settings.INNGEST_RETRIES + 1
        self.redeliver = redeliver
        self.max_requests = max_requests
        # Straight to the endpoint: no proxy settings from the environment (tests reach only
        # 127.0.0.1), and no per-request environment lookups.
        self.session = requests.Session()
        self.session.trust_env = False

    # --- one run, start to end ------------------------------------------------------------
    def run(self, fn_id: str, event: dict) -> Run:
        event = {"id": uuid.uuid4().hex, "ts": int(time.time() * 1000), "data": {}, **event}
        run = Run(run_id=uuid.uuid4().hex)
        memos: dict[str, dict] = {}
        stack: list[str] = []
        names: dict[str, str] = {}
        attempt = 0
        target: str | None = None

        while run.requests < self.max_requests:
            response = self._call(
                f"{APP_ID}-{fn_id}",
                event,
                run_id=run.run_id,
                steps=memos,
                stack=stack,
                attempt=attempt,
                step_id=target or "step",
            )
            run.requests += 1
            target = None
            if response.status_code == 200:
                run.status, run.output = "completed", response.json()
                return run
            if response.status_code == 206:
                for op in response.json():
                    hashed, name = op["id"], op.get("displayName") or op.get("name") or op["id"]
                    names[hashed] = name
                    kind = op["op"]
                    if kind == "StepPlanned":
                        target = hashed
                        continue
                    run.step_attempts[name] += 1
                    if kind == "StepRun":
                        memos[hashed] = {"data": op.get("data")}
                        attempt = 0
                    elif kind == "StepFailed" or (
                        kind == "StepError" and attempt + 1 >= self.max_attempts
                    ):
                        memos[hashed] = {"error": op["error"]}
                        attempt = 0
                    elif kind == "StepError":
                        attempt += 1
                        continue
                    else:
                        raise ExecutorError(f"unsupported op {kind}: {op}")
                    stack.append(hashed)
                    run.steps[name] = memos[hashed]
                continue
            if response.status_code == 500:
                if "retry-after" in response.headers:
                    run.retry_after.append(response.headers["retry-after"])
                no_retry = response.headers.get("x-inngest-no-retry") == "true"
                if not no_retry and attempt + 1 < self.max_attempts:
                    attempt += 1
                    continue
                run.status, run.error = "failed", _error_of(response)
                run.failure_output = self._fail(fn_id, event, run)
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
                "max_attempts": self.max_attempts,
                "stack": {"stack": list(stack)},
            },
            "use_api": False,
        }
        response = self.post(body, params={"fnId": fn_id, "stepId": step_id})
        if self.redeliver and response.status_code in (200, 206):
            response = self.post(body, params={"fnId": fn_id, "stepId": step_id})
        return response

    def post(
        self, body: dict, *, params: dict, signed_at: int | None = None, key: str | None = None
    ) -> requests.Response:
        """POST a body as Inngest would; `signed_at`/`key` forge stale or foreign signatures."""
        raw = json.dumps(body).encode()
        headers = {"Content-Type": "application/json"}
        signing_key = key if key is not None else self.signing_key
        if signing_key:
            headers["X-Inngest-Signature"] = sign_request(raw, signing_key, signed_at)
        return self.session.post(self.url, data=raw, params=params, headers=headers, timeout=30)

    def _fail(self, fn_id: str, event: dict, run: Run) -> object:
        failed = {
            "id": uuid.uuid4().hex,
            "name": "inngest/function.failed",
            "ts": int(time.time() * 1000),
            "data": {
                "error": run.error,
                "function_id": f"{APP_ID}-{fn_id}",
                "run_id": run.run_id,
                "event": event,
            },
        }
        response = self._call(
            f"{APP_ID}-{fn_id}-failure",
            failed,
            run_id=uuid.uuid4().hex,
            steps={},
            stack=[],
            attempt=0,
        )
        if response.status_code != 200:
            raise ExecutorError(f"on_failure answered {response.status_code}: {response.text}")
        return response.json()


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
