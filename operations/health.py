"""Liveness and readiness, through django-health-check.

- `/healthz/` (liveness): the process answers. It touches nothing else, so a database outage
  never gets healthy workers restarted.
- `/readyz/` (readiness): every dependency a job needs answers now: the database, the cache,
  object storage (when a bucket is configured) and the Inngest event API (not with the
  development executor, KORAI_DEV_EXECUTOR_RUNNING: no Inngest is there to reach). One failing
  dependency makes it 503. Anyone reads which: `{"status": "unavailable", "failed": ["storage"]}`
  (`{"status": "ok"}`); the metrics token (`Authorization: Bearer <METRICS_TOKEN>`) or a staff
  session reads each check's outcome: `{"database": "OK", ..., "inngest": "Unavailable: ..."}`.
  A process reuses the storage and event-API outcomes for KORAI_READINESS_CACHE_SECONDS, so a
  flood of probes makes at most one S3 HEAD and one event-API POST per interval.
"""

import dataclasses
import datetime
import threading
import time

import requests
from django.conf import settings
from django.http import HttpResponse, JsonResponse
from health_check import Cache, Database, HealthCheck
from health_check.exceptions import HealthCheckException, ServiceUnavailable
from health_check.views import HealthCheckView

from core.inngest import event_api_base_url, event_api_url
from integrations import storage
from operations.metrics import has_metrics_token

# A probe answers fast or counts as down: orchestrators poll readiness every few seconds.
PROBE_TIMEOUT_SECONDS = 2.0


@dataclasses.dataclass(repr=False)
class Alive(HealthCheck):
    """Liveness: reaching this code is the whole check."""

    def run(self) -> None:
        return None

    def __repr__(self) -> str:
        return "process"


class ReusedProbe(HealthCheck):
    """A check of an outside service (each probe a request to it) whose outcome this process
    reuses for KORAI_READINESS_CACHE_SECONDS: a request in that interval, or one arriving while
    the probe is under way, gets the same outcome instead of probing again. Subclasses
    implement `probe`."""

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        cls._lock = threading.Lock()
        cls._outcome: tuple[float, HealthCheckException | None] | None = None  # (when, error)

    def probe(self) -> None:
        raise NotImplementedError

    def run(self) -> None:
        cls = type(self)
        if not cls._lock.acquire(timeout=PROBE_TIMEOUT_SECONDS):
            raise ServiceUnavailable("the probe under way did not finish in time")
        try:
            reuse_for = settings.KORAI_READINESS_CACHE_SECONDS
            if cls._outcome is None or time.monotonic() - cls._outcome[0] >= reuse_for:
                cls._outcome = (time.monotonic(), self._probe_error())
            error = cls._outcome[1]
        finally:
            cls._lock.release()
        if error is not None:
            raise type(error)(error.message)

    def _probe_error(self) -> HealthCheckException | None:
        try:
            self.probe()
        except HealthCheckException as err:
            return err
        return None


@dataclasses.dataclass(repr=False)
class DatabaseReady(Database):
    def __repr__(self) -> str:
        return "database"


@dataclasses.dataclass(repr=False)
class CacheReady(Cache):
    def __repr__(self) -> str:
        return "cache"


@dataclasses.dataclass(repr=False)
class ObjectStorageReady(ReusedProbe):
    """The bucket the clips service writes to can be reached (HEAD bucket, through
    integrations.storage's client). Skipped when no bucket is configured (AWS_S3_BUCKET_NAME
    empty)."""

    timeout = datetime.timedelta(seconds=PROBE_TIMEOUT_SECONDS)

    def probe(self) -> None:
        if not storage.is_configured():
            return
        # Here, not at the top: botocore loads with boto3, on first use (integrations.storage).
        from botocore.exceptions import BotoCoreError, ClientError

        bucket = storage.bucket_name()
        try:
            storage.client().head_bucket(Bucket=bucket)
        except ClientError as err:
            status = err.response.get("ResponseMetadata", {}).get("HTTPStatusCode", "?")
            raise ServiceUnavailable(f"bucket {bucket} answered {status}") from err
        except BotoCoreError as err:
            raise ServiceUnavailable(f"bucket {bucket} unreachable: {type(err).__name__}") from err

    def __repr__(self) -> str:
        return "storage"


@dataclasses.dataclass(repr=False)
class InngestEventApiReady(ReusedProbe):
    """The Inngest event API answers: an empty batch is POSTed to it (nothing is sent). No
    answer, a 5xx, or a refusal of the event key (401/403) is a failure: events recorded now
    would wait in the outbox."""

    timeout = datetime.timedelta(seconds=PROBE_TIMEOUT_SECONDS)

    def probe(self) -> None:
        where = event_api_base_url()  # never the full URL: it carries the event key
        try:
            response = requests.post(event_api_url(), json=[], timeout=PROBE_TIMEOUT_SECONDS)
        except requests.Timeout as err:
            raise ServiceUnavailable(f"event API at {where} did not answer in time") from err
        except requests.RequestException as err:
            raise ServiceUnavailable(
                f"event API at {where} unreachable: {type(err).__name__}"
            ) from err
        if response.status_code >= 500 or response.status_code in (401, 403):
            raise ServiceUnavailable(f"event API at {where} answered {response.status_code}")

    def __repr__(self) -> str:
        return "inngest"


class ProbeView(HealthCheckView):
    """JSON (or text with `Accept: text/plain`); a failing check answers 503 (not the library's
    500), which load balancers and orchestrators read as "not ready". The library's HTML page
    would need it in INSTALLED_APPS, whose import every process start would pay for."""

    async def get(self, request, *args, **kwargs):
        response = await super().get(request, *args, **kwargs)
        if response.status_code == 500:
            response.status_code = 503
        return response

    def render_to_response(self, context, **response_kwargs):
        return self.render_to_response_json(response_kwargs.get("status", 200))


class ReadinessView(ProbeView):
    """Readiness: to the public only which dependency failed (no bucket, error or address);
    every check's outcome with the metrics token or to a staff session."""

    async def get(self, request, *args, **kwargs):
        self.details = await _may_read_details(request)
        return await super().get(request, *args, **kwargs)

    def get_checks(self):
        checks = [DatabaseReady, CacheReady, ObjectStorageReady]
        if not settings.KORAI_DEV_EXECUTOR_RUNNING:
            checks.append(InngestEventApiReady)
        return (check() for check in checks)

    def _failed(self) -> list[str]:
        return [repr(result.check) for result in self.results if result.error]

    def render_to_response_json(self, status):
        if self.details:
            return super().render_to_response_json(status)
        failed = self._failed()
        body = {"status": "unavailable", "failed": failed} if failed else {"status": "ok"}
        return JsonResponse(body, status=status)

    def render_to_response_text(self, status):
        if self.details:
            return super().render_to_response_text(status)
        failed = self._failed()
        text = f"unavailable: {', '.join(failed)}" if failed else "ok"
        return HttpResponse(f"{text}\n", content_type="text/plain; charset=utf-8", status=status)

    # The feeds and OpenMetrics carry each check's error and labels: the public gets the JSON.
    def render_to_response_atom(self):
        return self._details_or_json(super().render_to_response_atom)

    def render_to_response_rss(self):
        return self._details_or_json(super().render_to_response_rss)

    def render_to_response_openmetrics(self):
        return self._details_or_json(super().render_to_response_openmetrics)

    def _details_or_json(self, render):
        if self.details:
            return render()
        return self.render_to_response_json(500 if self._failed() else 200)


async def _may_read_details(request) -> bool:
    if has_metrics_token(request):
        return True
    # The steps role has no sessions, so no `auser`.
    auser = getattr(request, "auser", None)
    return auser is not None and (await auser()).is_staff


liveness = ProbeView.as_view(checks=[Alive])
readiness = ReadinessView.as_view()
