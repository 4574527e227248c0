"""`/metrics` for Prometheus: django-prometheus's HTTP and database series, Korai's step, API and
job counters (`core.metrics`), and what the database says at scrape time.

Two kinds of series, so that several gunicorn workers report correctly:
- counted in the process (HTTP, database, steps, external APIs, job status changes): with
  PROMETHEUS_MULTIPROC_DIR set, every worker writes its own files there and this view adds
  them all up; without it, the answering process's own registry is exported;
- read from the database on every scrape (`DatabaseCollector`: jobs by kind and status, the
  outbox backlog): the same whichever worker answers, in three queries whatever the data.

Protected (CONTRACT.md): with METRICS_TOKEN set, only `Authorization: Bearer <token>`; without
it, only loopback clients (a scraper on the same host, or a sidecar).
"""

import hmac
import ipaddress
import os

from django.conf import settings
from django.db.models import Count, Min
from django.http import HttpRequest, HttpResponse
from django.utils import timezone
from django.views.decorators.http import require_GET
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, CollectorRegistry, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.multiprocess import MultiProcessCollector

from api.errors import json_error
from exports.models import Export
from outbox.models import OutboxEvent
from videos.models import Video

# (kind label, model, status field, every status): every status is exported, zero included, so
# a series never disappears when its last job moves on.
JOB_KINDS = (
    ("video", Video, "status", Video.Status.values),
    ("export", Export, "status", Export.Status.values),
)


class DatabaseCollector:
    """Gauges read from the database when Prometheus scrapes: one query per job kind, one for
    the outbox."""

    def collect(self):
        jobs = GaugeMetricFamily(
            "korai_jobs", "Jobs by kind and status, from the database.", labels=["kind", "status"]
        )
        for kind, model, field, statuses in JOB_KINDS:
            counts = dict(
                model.objects.order_by()
                .values_list(field)
                .annotate(n=Count("pk"))
                .values_list(field, "n")
            )
            for status in statuses:
                jobs.add_metric([kind, status], counts.get(status, 0))
        yield jobs

        backlog = OutboxEvent.objects.filter(delivered_at__isnull=True).aggregate(
            count=Count("pk"), oldest=Min("created_at")
        )
        yield GaugeMetricFamily(
            "korai_outbox_undelivered_events",
            "Recorded events that Inngest has not accepted yet (resend_events sends them).",
            value=backlog["count"],
        )
        age = (timezone.now() - backlog["oldest"]).total_seconds() if backlog["oldest"] else 0
        yield GaugeMetricFamily(
            "korai_outbox_oldest_undelivered_age_seconds",
            "Age of the oldest undelivered event; 0 when every event was delivered.",
            value=max(age, 0.0),
        )


def _process_registry():
    if "PROMETHEUS_MULTIPROC_DIR" in os.environ:
        registry = CollectorRegistry()
        MultiProcessCollector(registry)
        return registry
    return REGISTRY


def has_metrics_token(request: HttpRequest) -> bool:
    """Whether the request carries `Authorization: Bearer <METRICS_TOKEN>` (never without one
    configured)."""
    token = settings.METRICS_TOKEN
    given = request.headers.get("Authorization", "")
    return bool(token) and hmac.compare_digest(given.encode(), f"Bearer {token}".encode())


def _refusal(request: HttpRequest) -> HttpResponse | None:
    if settings.METRICS_TOKEN:
        if has_metrics_token(request):
            return None
        return json_error(
            401,
            "A valid bearer token is required.",
            headers={"WWW-Authenticate": 'Bearer realm="metrics"'},
        )
    try:
        loopback = ipaddress.ip_address(request.META.get("REMOTE_ADDR", "")).is_loopback
    except ValueError:
        loopback = False
    if loopback:
        return None
    return json_error(
        403,
        "Metrics answer loopback clients only; set METRICS_TOKEN to scrape from elsewhere.",
    )


@require_GET
def metrics(request: HttpRequest) -> HttpResponse:
    if refusal := _refusal(request):
        return refusal
    database = CollectorRegistry()
    database.register(DatabaseCollector())
    body = generate_latest(_process_registry()) + generate_latest(database)
    return HttpResponse(body, content_type=CONTENT_TYPE_LATEST)
