"""The one Inngest client (`inngest_client`, app id `korai-app`) and the `/api/inngest` endpoint.

Configuration comes from settings (and so from the environment): `INNGEST_DEV` ("1" or a Dev
Server URL) runs without keys; otherwise `INNGEST_EVENT_KEY` and a well-formed
`INNGEST_SIGNING_KEY` are required, and a bad configuration stops the service at start-up
(a `ConfigurationError` when the URLconf builds the endpoint) instead of failing requests
later.
"""

import re
import urllib.parse
from collections.abc import Callable
from dataclasses import dataclass

import inngest
import inngest.django
from django.conf import settings
from django.urls import URLPattern

from core.configuration import ConfigurationError
from core.observability import ObservabilityMiddleware

APP_ID = "korai-app"

# `signkey-<env>-<hex>`: the SDK hashes the hex part, so anything else crashes it mid-request.
_SIGNING_KEY_RE = re.compile(r"^signkey-\w+-(?:[0-9a-fA-F]{2})+$")
_DEV_SERVER_URL = "http://127.0.0.1:8288"
_CLOUD_API_URL = "https://api.inngest.com"
_CLOUD_EVENT_API_URL = "https://inn.gs"
_CLOUD_DASHBOARD_URL = "https://app.inngest.com"
# What the Dev Server accepts in place of an event key.
_DEV_EVENT_KEY = "NO_EVENT_KEY_SET"


def is_dev_mode() -> bool:
    """Only when asked: INNGEST_DEV set (and not "0"/"false"). Nothing is inferred from DEBUG,
    so a stray DJANGO_DEBUG can never switch the signature checks off."""
    flag = settings.INNGEST_DEV.strip().lower()
    return bool(flag) and flag not in ("0", "false")


def _dev_server_url() -> str | None:
    """INNGEST_DEV may itself be the Dev Server's URL instead of a flag."""
    value = settings.INNGEST_DEV.strip()
    return value.rstrip("/") if "://" in value else None


def api_base_url() -> str:
    """Origin of the Inngest server: INNGEST_BASE_URL, else the Dev Server or Inngest Cloud."""
    if settings.INNGEST_BASE_URL:
        return settings.INNGEST_BASE_URL.rstrip("/")
    if is_dev_mode():
        return _dev_server_url() or _DEV_SERVER_URL
    return _CLOUD_API_URL


def dashboard_url() -> str:
    """Where operators open a run: INNGEST_DASHBOARD_URL, else the Dev Server's UI or Inngest
    Cloud's dashboard."""
    if settings.INNGEST_DASHBOARD_URL:
        return settings.INNGEST_DASHBOARD_URL.rstrip("/")
    if is_dev_mode():
        return _dev_server_url() or _DEV_SERVER_URL
    return _CLOUD_DASHBOARD_URL


def event_api_base_url() -> str:
    if settings.INNGEST_BASE_URL or is_dev_mode():
        return api_base_url()
    return _CLOUD_EVENT_API_URL


def event_key() -> str:
    return settings.INNGEST_EVENT_KEY or (_DEV_EVENT_KEY if is_dev_mode() else "")


def event_api_url() -> str:
    """Where to POST events (`[{"name", "data", "id"}, ...]`): `{event API}/e/{event key}`.
    Resolved from settings on each call, so it follows `override_settings` in tests."""
    return f"{event_api_base_url()}/e/{urllib.parse.quote(event_key(), safe='')}"


def check_configuration() -> None:
    """Raise ConfigurationError unless production mode has usable keys."""
    if is_dev_mode():
        return
    problems = []
    if not settings.INNGEST_EVENT_KEY:
        problems.append("INNGEST_EVENT_KEY is not set")
    if not settings.INNGEST_SIGNING_KEY:
        problems.append("INNGEST_SIGNING_KEY is not set")
    elif not _SIGNING_KEY_RE.match(settings.INNGEST_SIGNING_KEY):
        problems.append("INNGEST_SIGNING_KEY is malformed (expected signkey-<env>-<hex>)")
    fallback = settings.INNGEST_SIGNING_KEY_FALLBACK
    if fallback and not _SIGNING_KEY_RE.match(fallback):
        problems.append("INNGEST_SIGNING_KEY_FALLBACK is malformed (expected signkey-<env>-<hex>)")
    if problems:
        raise ConfigurationError(
            "Inngest production mode: "
            + "; ".join(problems)
            + ". Set the keys from the Inngest dashboard, or INNGEST_DEV=1 for local development."
        )


def create_client() -> inngest.Inngest:
    """Build the client from settings (tests call this under `override_settings`). Building it
    never fails, so modules that only send events can import this one; `serve` checks the keys."""
    dev = is_dev_mode()
    client = inngest.Inngest(
        app_id=APP_ID,
        is_production=not dev,
        api_base_url=api_base_url(),
        event_api_base_url=event_api_base_url(),
        event_key=settings.INNGEST_EVENT_KEY or None,
        signing_key=settings.INNGEST_SIGNING_KEY or None,
        # Log context (job, run, step, attempt) and step metrics for every function.
        middleware=[ObservabilityMiddleware],
    )
    # The SDK (0.5) reads the rotation key from the environment only; settings may come from
    # elsewhere (.env, override_settings), so set it explicitly where the SDK keeps it: the
    # serve handler verifies requests with it, the HTTP client authenticates API calls with it.
    fallback = settings.INNGEST_SIGNING_KEY_FALLBACK or None
    client._signing_key_fallback = fallback
    client._http_client._signing_key_fallback = fallback
    return client


def serve(*, client: inngest.Inngest, functions: list[inngest.Function]) -> URLPattern:
    """The SDK's `/api/inngest` (GET, PUT, POST) for `functions`. The URLconf puts
    `inngest_endpoint.guard` in front of it (signature format and age, replay, body shape).

    Raises ConfigurationError when production mode lacks usable keys: the URLconf imports
    this, so the service refuses to start instead of answering 500s."""
    check_configuration()
    # What a sync registers as the app's URL (the SDK falls back to the request's own URL).
    return inngest.django.serve(
        client,
        functions,
        serve_origin=settings.INNGEST_SERVE_ORIGIN or None,
        serve_path=settings.INNGEST_SERVE_PATH or None,
    )


def periodic_function(
    *, fn_id: str, name: str, work: Callable[[], dict], cron: str = "*/5 * * * *"
) -> inngest.Function:
    """A cron function of one step named `fn_id` that calls `work` (its answer is the run's
    output). No retries: the next tick is the retry. One run at a time: two ticks at once would
    do the same work twice, or skip each other's rows."""

    @inngest_client.create_function(
        fn_id=fn_id,
        name=name,
        trigger=inngest.TriggerCron(cron=cron),
        retries=0,
        concurrency=[inngest.Concurrency(limit=1)],
    )
    def periodic(ctx: inngest.ContextSync) -> dict:
        return ctx.step.run(fn_id, work)

    return periodic


def concurrency_limits() -> list[inngest.Concurrency]:
    """Per user and in total, for one function: a single user cannot flood the GPU services."""
    return [
        inngest.Concurrency(key="event.data.userId", limit=settings.INNGEST_CONCURRENCY_PER_USER),
        inngest.Concurrency(limit=settings.INNGEST_CONCURRENCY_GLOBAL),
    ]


@dataclass(frozen=True)
class FailedRun:
    job_id: str
    run_id: str
    # The id of the event that started the run (for Korai's events, the outbox row's
    # `event_id`); "" if the failure event does not carry it.
    event_id: str
    error: str


def failed_run(ctx: inngest.ContextSync, *, id_field: str, id_for_event) -> FailedRun:
    """What an `inngest/function.failed` event says about the run that failed: the job it
    worked on (the original event's `id_field`, or for the original Next.js app's event shape
    the id derived from that event's id), the run id, the original event's id and a readable
    error."""
    data = ctx.event.data
    original = data.get("event") or {}
    run_id = str(data.get("run_id") or "")
    job_id = (original.get("data") or {}).get(id_field) or id_for_event(
        original.get("id") or run_id
    )
    return FailedRun(
        job_id=str(job_id),
        run_id=run_id,
        event_id=str(original.get("id") or ""),
        error=failure_message(data.get("error")),
    )


def failure_message(error: object) -> str:
    """A readable error from `inngest/function.failed`'s `data.error` ({name, message, ...})."""
    if not isinstance(error, dict):
        return str(error or "the function failed")
    message = str(error.get("message") or error.get("error") or "the function failed")
    name = str(error.get("name") or "")
    # Our own messages already say what failed; the SDK's wrapper names add nothing.
    if name and name not in ("Error", "NonRetriableError", "StepError", "RetryAfterError"):
        return f"{name}: {message}"
    return message


inngest_client = create_client()
