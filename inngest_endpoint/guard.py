"""The checks in front of the Inngest SDK's view at `/api/inngest`.

Only Inngest talks to this endpoint, and each of its requests is signed. Everything that is not
such a request is answered here with a 4xx in the API's error shape, before the SDK (and so
before any function step) sees it:
- the method (GET, POST, PUT only);
- outside dev mode, the `X-Inngest-Signature` header: exactly `t=<unix seconds>&s=<64 hex>`
  (the SDK's own parser crashes on some malformed values), a timestamp within
  INNGEST_SIGNATURE_MAX_AGE_SECONDS of now, and a valid HMAC (the SDK's check, with the
  fallback key during rotation);
- replay: a POST (a function run) whose signature was already accepted once is refused.
  Inngest signs every delivery, retries included, with a fresh timestamp and a fresh
  `request_id` in the body, so only a copied request repeats one. Seen signatures are rows of
  `SeenSignature`, which every worker process shares. A PUT or GET may repeat: Inngest's sync
  ping is a fixed `{"url": ...}` signed to the second, so two pings in one second are
  identical, and registering or describing the app again changes nothing;
- for POST (a function run): the `fnId` of a served function, a known `probe`, and a body of
  the shape the SDK expects; the SDK's validation text is not echoed.

What the headers alone decide (the method; a missing, malformed or stale signature) is refused
before the body is read: a request announcing a large body and sending it slowly cannot hold a
thread. The Content-Length limit comes earlier still (api.request_limits).
"""

import itertools
import logging
import re
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import NamedTuple

import inngest
from django.conf import settings
from django.db import IntegrityError, transaction
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.urls import URLPattern, path
from django.utils import timezone
from django.views.decorators.csrf import csrf_exempt
from inngest._internal import net, server_lib

from api.errors import json_error
from api.request_limits import body_limit
from inngest_endpoint.models import SeenSignature

# How Inngest (and the SDK's sign_request) writes the header; re.ASCII: only 0-9 are digits.
SIGNATURE_HEADER = re.compile(r"t=([0-9]{1,12})&s=([0-9a-fA-F]{64})", re.ASCII)
logger = logging.getLogger(__name__)
# Expired rows are deleted on every n-th accepted request of a process, not on each one.
PURGE_EVERY = 100
_accepted = itertools.count(1)


def guarded(
    pattern: URLPattern, *, client: inngest.Inngest, functions: list[inngest.Function]
) -> URLPattern:
    """The SDK's URL pattern (`core.inngest.serve`) with `guard` in front of its view, at
    `api/inngest` whatever INNGEST_SERVE_PATH (the path syncs register, which the SDK would
    also serve at) says: the body limit, the HTTPS exemption and the steps pool are set for
    this path, and a proxy maps the public path to it."""
    view = guard(pattern.callback, client=client, functions=functions)
    return path("api/inngest", csrf_exempt(view), name="inngest")


def guard(
    sdk_view: Callable[[HttpRequest], HttpResponse],
    *,
    client: inngest.Inngest,
    functions: list[inngest.Function],
) -> Callable[[HttpRequest], HttpResponse]:
    """`sdk_view` (from `inngest.django.serve`) behind the checks above."""
    function_ids = {fn.get_id() for fn in functions} | {fn.on_failure_fn_id for fn in functions}
    function_ids.discard(None)
    production = client.is_production

    def inngest_api(request: HttpRequest) -> HttpResponse:
        if request.method not in ("GET", "POST", "PUT"):
            return _error(405, "method_not_allowed", "Use GET, POST or PUT.")
        signature = None
        if production:
            signature = _signature_header(request)
            if isinstance(signature, str):
                return _error(401, "signature_invalid", signature)
        _read_body(request)
        if signature is not None:
            refused = _signature_problem(request, client, signature)
            if refused:
                return _error(401, "signature_invalid", refused)
        if request.method == "POST":
            problem = _run_request_problem(request, function_ids)
            if problem:
                return problem
        response = sdk_view(request)
        if request.method == "PUT" and response.status_code >= 500:
            # A failed registration: the SDK's text names internal URLs; the log has it.
            logger.error("Inngest sync failed: %s", response.content[:1000])
            return _error(502, "sync_failed", "Registering the app with Inngest failed.")
        return response

    # What this endpoint serves, for the development executor (`devtools.registry`), which
    # reads the functions' configs from here as an Inngest sync would.
    inngest_api.inngest_app_id = client.app_id
    inngest_api.inngest_functions = tuple(functions)
    return inngest_api


def _read_body(request: HttpRequest) -> None:
    """Read the body here, up to this path's limit (INNGEST_MAX_BODY_BYTES: Inngest sends a
    run's event and its memoized step outputs, at most 4 MB, beyond which it sends `use_api`
    and the SDK fetches them), because `HttpRequest.body` would refuse anything over Django's
    DATA_UPLOAD_MAX_MEMORY_SIZE (2.5 MB, kept for every other path). api.request_limits has
    already refused a larger Content-Length with a 413."""
    request._body = request.read(body_limit(request.path_info) + 1)


class _Signature(NamedTuple):
    signed_at: int
    mac: str


def _signature_header(request: HttpRequest) -> _Signature | str | None:
    """The X-Inngest-Signature header, parsed and inside the time window; a string says why
    not; None: an unsigned sync the operator allows."""
    header = request.headers.get("X-Inngest-Signature")
    if header is None:
        # An unsigned PUT asks the app to register itself with the configured Inngest server
        # (an out-of-band sync, e.g. `curl -X PUT`): an outgoing request on anyone's behalf,
        # so only when the operator allows it. Inngest's own syncs are signed (in-band).
        if request.method == "PUT" and settings.INNGEST_ALLOW_UNSIGNED_SYNC:
            return None
        return "The X-Inngest-Signature header is missing."
    match = SIGNATURE_HEADER.fullmatch(header)
    if match is None:
        return "The X-Inngest-Signature header is malformed."
    signed_at = int(match.group(1))
    if abs(time.time() - signed_at) > settings.INNGEST_SIGNATURE_MAX_AGE_SECONDS:
        return "The signature's timestamp is outside the accepted window."
    return _Signature(signed_at=signed_at, mac=match.group(2).lower())


def _signature_problem(
    request: HttpRequest, client: inngest.Inngest, signature: _Signature
) -> str | None:
    """What is wrong with the body's signature (its HMAC; for a POST, a replay), or None."""
    if not _hmac_valid(request, client):
        return "The signature does not match."
    max_age = settings.INNGEST_SIGNATURE_MAX_AGE_SECONDS
    if request.method == "POST" and not _first_sighting(
        signature.mac, signed_at=signature.signed_at, max_age=max_age
    ):
        return "This signature was already used: a replayed request is refused."
    return None


def _hmac_valid(request: HttpRequest, client: inngest.Inngest) -> bool:
    result = net.validate_request_sig(
        body=request.body,
        headers=net.normalize_headers(dict(request.headers.items())),
        mode=server_lib.ServerKind.CLOUD,
        signing_key=client.signing_key,
        signing_key_fallback=client.signing_key_fallback,
    )
    return isinstance(result, str) and bool(result)


def _first_sighting(signature: str, *, signed_at: int, max_age: int) -> bool:
    """Record the signature; False if it was recorded before (by any process)."""
    expires_at = datetime.fromtimestamp(signed_at, tz=UTC) + timedelta(seconds=max_age)
    try:
        with transaction.atomic():
            SeenSignature.objects.create(signature=signature, expires_at=expires_at)
    except IntegrityError:
        return False
    if next(_accepted) % PURGE_EVERY == 0:
        SeenSignature.objects.filter(expires_at__lt=timezone.now()).delete()
    return True


def _run_request_problem(request: HttpRequest, function_ids: set[str]) -> HttpResponse | None:
    probe = request.GET.get("probe")
    if probe:
        if probe != server_lib.Probe.TRUST.value:
            return _error(400, "invalid_probe", "Unknown probe.")
        return None
    fn_id = request.GET.get("fnId")
    if fn_id not in function_ids:
        return _error(404, "function_not_found", "No function with this fnId is served here.")
    body = server_lib.ServerRequest.from_raw(request.body)
    if isinstance(body, Exception):
        return _error(400, "malformed_body", "The body is not a function run request.")
    return None


def _error(status: int, code: str, message: str) -> JsonResponse:
    return json_error(status, message, code=code)
