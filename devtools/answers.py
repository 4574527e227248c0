"""What Inngest makes of an answer to one of its requests, read from the server's source
(`pkg/execution/driver/httpdriver/httpdriver.go` and `util.go`, `ShouldRetry`): a 2xx from the
SDK (it sends `x-inngest-sdk`) is a result; anything else is a failed attempt — a non-2xx of any
status, a 2xx from something that is not the SDK (a proxy's page), a dropped connection or a
timeout — and is retried unless `x-inngest-no-retry: true` says not to. The errors are in the
server's shapes (`pkg/execution/state/driver_response.go`: `StandardError`,
`FatalUpstreamError`)."""

from __future__ import annotations

import os
import time
from dataclasses import dataclass

import requests

NOT_SDK = "The response did not come from an Inngest SDK"
FATAL_NAME = "Server returned a fatal error"
UPSTREAM_DETAIL = (
    "No step output was produced before the request failed — this can mean a proxy or load "
    "balancer in front of your app returned an error, or your app was unable to respond."
)


@dataclass(frozen=True)
class Failure:
    error: dict  # {name, message, error, stack}
    retriable: bool


def failure_of(response: requests.Response | None, problem: Exception | None = None):
    """None for an answer the run goes on with (the SDK's 200 or 206), else the Failure."""
    if response is None:
        message = f"{type(problem).__name__}: {problem}"
        return Failure(_error(type(problem).__name__, message), retriable=True)
    from_sdk = bool(response.headers.get("x-inngest-sdk"))
    if 200 <= response.status_code < 300:
        return None if from_sdk else Failure(_error("Error", NOT_SDK), retriable=True)
    error = sdk_error(response) if from_sdk else upstream_error(response)
    return Failure(error, retriable=response.headers.get("x-inngest-no-retry") != "true")


def sdk_error(response: requests.Response) -> dict:
    """The error the SDK serialized in its answer."""
    try:
        body = response.json()
    except ValueError:
        return _error("Error", response.text)
    if not isinstance(body, dict):
        body = {"message": str(body)}
    error = _error(body.get("name", "Error"), body.get("message", ""))
    return {**error, "stack": body.get("stack")}


def upstream_error(response: requests.Response) -> dict:
    """A non-2xx that did not come from the SDK (a 401 of a guard, a proxy's 502)."""
    message = f"Your server returned HTTP {response.status_code} before the SDK responded."
    content_type = response.headers.get("Content-Type") or "unknown content-type"
    stack = f"{UPSTREAM_DETAIL}\n\nUpstream response ({content_type}):\n{response.text[:1024]}"
    return {**_error(FATAL_NAME, message), "stack": stack}


def _error(name: str, message: str) -> dict:
    return {"name": name, "message": message, "error": message}


_CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"


def new_ulid() -> str:
    """A ULID, as the server's run and event ids are (48 bits of milliseconds, 80 random)."""
    value = (int(time.time() * 1000) << 80) | int.from_bytes(os.urandom(10), "big")
    return "".join(_CROCKFORD[(value >> shift) & 31] for shift in range(125, -1, -5))
