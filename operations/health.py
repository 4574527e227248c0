"""Liveness and readiness, through django-health-check.

- `/healthz/` (liveness): the process answers. It touches nothing else, so a database outage
  never gets healthy workers restarted.
- `/readyz/` (readiness): every dependency a job needs answers now: the database, the cache,
  object storage (when a bucket is configured) and the Inngest event API. One failing
  dependency makes it 503, and the answer names it:
  `{"database": "OK", "cache": "OK", "storage": "OK", "inngest": "Unavailable: ..."}`.
"""

import dataclasses
import datetime

import requests
from health_check import Cache, Database, HealthCheck
from health_check.exceptions import ServiceUnavailable
from health_check.views import HealthCheckView

from core.inngest import event_api_base_url, event_api_url
from integrations import storage

# A probe answers fast or counts as down: orchestrators poll readiness every few seconds.
PROBE_TIMEOUT_SECONDS = 2.0


@dataclasses.dataclass(repr=False)
class Alive(HealthCheck):
    """Liveness: reaching this code is the whole check."""

    def run(self) -> None:
        return None

    def __repr__(self) -> str:
        return "process"


@dataclasses.dataclass(repr=False)
class DatabaseReady(Database):
    def __repr__(self) -> str:
        return "database"


@dataclasses.dataclass(repr=False)
class CacheReady(Cache):
    def __repr__(self) -> str:
        return "cache"


@dataclasses.dataclass(repr=False)
class ObjectStorageReady(HealthCheck):
    """The bucket the clips service writes to can be reached (HEAD bucket, through
    integrations.storage's client). Skipped when no bucket is configured (AWS_S3_BUCKET_NAME
    empty)."""

    timeout = datetime.timedelta(seconds=PROBE_TIMEOUT_SECONDS)

    def run(self) -> None:
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
class InngestEventApiReady(HealthCheck):
    """The Inngest event API answers: an empty batch is POSTed to it (nothing is sent). No
    answer, a 5xx, or a refusal of the event key (401/403) is a failure: events recorded now
    would wait in the outbox."""

    timeout = datetime.timedelta(seconds=PROBE_TIMEOUT_SECONDS)

    def run(self) -> None:
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


liveness = ProbeView.as_view(checks=[Alive])
readiness = ProbeView.as_view(
    checks=[DatabaseReady, CacheReady, ObjectStorageReady, InngestEventApiReady]
)
