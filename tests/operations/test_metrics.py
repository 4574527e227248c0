"""/metrics: who may scrape it, the series read from the database, and what a scrape costs."""

from datetime import timedelta

import pytest
from django.utils import timezone

from exports.models import Export
from outbox.models import OutboxEvent
from tests.factories import ExportFactory, OutboxEventFactory, VideoFactory
from tests.metrics import samples, value
from videos.models import Video

pytestmark = pytest.mark.django_db


def scrape(client, **extra) -> dict:
    response = client.get("/metrics", **extra)
    assert response.status_code == 200, response.content
    assert response["Content-Type"].startswith("text/plain; version=")
    return samples(response.content.decode())


def test_without_a_token_only_loopback_clients_may_scrape(client, settings):
    settings.METRICS_TOKEN = ""
    assert client.get("/metrics", REMOTE_ADDR="127.0.0.1").status_code == 200
    assert client.get("/metrics", REMOTE_ADDR="::1").status_code == 200
    response = client.get("/metrics", REMOTE_ADDR="10.1.2.3")
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "permission_denied"


def test_with_a_token_every_client_needs_it(client, settings):
    settings.METRICS_TOKEN = "s3cret-token"
    for headers in ({}, {"HTTP_AUTHORIZATION": "Bearer wrong"}, {"HTTP_AUTHORIZATION": "s3cret"}):
        response = client.get("/metrics", REMOTE_ADDR="127.0.0.1", **headers)
        assert response.status_code == 401
        assert response["WWW-Authenticate"].startswith("Bearer")
        assert response.json()["error"]["code"] == "not_authenticated"
    ok = client.get("/metrics", REMOTE_ADDR="10.1.2.3", HTTP_AUTHORIZATION="Bearer s3cret-token")
    assert ok.status_code == 200


def test_jobs_by_kind_and_status_come_from_the_database(client):
    before = scrape(client)
    VideoFactory.create_batch(2, status=Video.Status.COMPLETED)
    video = VideoFactory(status=Video.Status.FAILED)
    ExportFactory(video=video, owner=video.owner, status=Export.Status.PARTIAL)

    after = scrape(client)
    assert value(after, "korai_jobs", kind="video", status="completed") == 2
    assert value(after, "korai_jobs", kind="video", status="failed") == 1
    assert value(after, "korai_jobs", kind="export", status="partial") == 1
    # Every status has a series, zero included, so none disappears when its last job moves on.
    assert value(before, "korai_jobs", kind="video", status="completed") == 0
    assert ("korai_jobs", frozenset({"kind": "export", "status": "failed"}.items())) in after


def test_the_outbox_backlog_and_its_age(client):
    assert value(scrape(client), "korai_outbox_undelivered_events") == 0
    assert value(scrape(client), "korai_outbox_oldest_undelivered_age_seconds") == 0
    video = VideoFactory()
    for age in (timedelta(minutes=5), timedelta(minutes=1)):
        event = OutboxEventFactory(job=video)
        OutboxEvent.objects.filter(pk=event.pk).update(created_at=timezone.now() - age)
    OutboxEventFactory(job=video, delivered_at=timezone.now())

    after = scrape(client)
    assert value(after, "korai_outbox_undelivered_events") == 2
    assert 300 <= value(after, "korai_outbox_oldest_undelivered_age_seconds") < 310


def test_a_scrape_makes_three_queries_whatever_the_data(client, django_assert_num_queries):
    with django_assert_num_queries(3):
        scrape(client)
    for status in Video.Status.values:
        VideoFactory.create_batch(3, status=status)
    with django_assert_num_queries(3):
        scrape(client)


def test_the_scrape_has_django_prometheus_http_and_database_series(client):
    client.get("/healthz/")
    scrape_ = scrape(client)
    assert value(scrape_, "django_http_requests_total_by_view_transport_method_total") > 0
    assert value(scrape_, "django_db_execute_total") > 0
