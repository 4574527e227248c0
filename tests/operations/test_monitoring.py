"""Monitoring from outside, over HTTP: jobs driven through /api/inngest as Inngest does, and
what the live server's /metrics and /readyz/ say about them before and after."""

import pytest
import requests

from outbox.models import OutboxEvent
from outbox.services import events_resend_undelivered
from tests.exports.test_functions import event_for as process_event
from tests.exports.test_functions import export, video  # noqa: F401 - fixtures
from tests.factories import VideoFactory
from tests.fakes.clips_api import Reply
from tests.metrics import samples, value
from tests.videos.test_functions import event_for as identify_event

pytestmark = pytest.mark.django_db(transaction=True)


def scrape(live_server, headers=None) -> dict:
    response = requests.get(live_server.url + "/metrics", headers=headers, timeout=10)
    assert response.status_code == 200, response.text
    return samples(response.text)


def delta(before: dict, after: dict, name: str, **labels) -> float:
    return value(after, name, **labels) - value(before, name, **labels)


def test_an_identification_moves_the_job_step_and_api_metrics(
    executor, fake_clips_api, live_server, user
):
    pending = VideoFactory(owner=user)
    # The identification API fails once (retried), then answers.
    fake_clips_api.queue("identify", Reply(status=502, body={"error": "busy"}))
    before = scrape(live_server)
    run = executor.run("identify-clips", identify_event(pending))
    after = scrape(live_server)

    assert run.status == "completed"
    # Jobs by status, from the database.
    assert value(before, "korai_jobs", kind="video", status="pending") == 1
    assert value(after, "korai_jobs", kind="video", status="pending") == 0
    assert value(after, "korai_jobs", kind="video", status="completed") == 1
    # Steps: every step's code ran once, the API step twice (one failed attempt).
    steps = "korai_step_duration_seconds_count"
    fn = {"function": "identify-clips"}
    assert delta(before, after, steps, **fn, step="create-video-record", outcome="ok") == 1
    assert delta(before, after, steps, **fn, step="call-identify-clips-api", outcome="error") == 1
    assert delta(before, after, steps, **fn, step="call-identify-clips-api", outcome="ok") == 1
    assert delta(before, after, steps, **fn, step="save-clips-to-database", outcome="ok") == 1
    assert delta(before, after, "korai_step_duration_seconds_sum", **fn) > 0
    # The external API: one retriable failure, one success, with their latency.
    api = "korai_external_api_call_duration_seconds_count"
    assert delta(before, after, api, api="identify-clips", outcome="retriable") == 1
    assert delta(before, after, api, api="identify-clips", outcome="ok") == 1
    assert delta(before, after, "korai_external_api_call_duration_seconds_sum") > 0
    # django-prometheus saw the executor's requests to /api/inngest and the queries they made.
    http = "django_http_requests_total_by_view_transport_method_total"
    assert delta(before, after, http, view="inngest", method="POST") == run.requests
    assert delta(before, after, "django_db_execute_total") > 0


def test_refused_and_malformed_answers_are_counted_as_such(
    executor,
    fake_clips_api,
    live_server,
    export,  # noqa: F811 - the fixture
):
    # The processing API refuses the export's request; the identification API answers garbage.
    fake_clips_api.queue("process", Reply(status=422, body={"error": "bad range"}))
    fake_clips_api.queue("identify", Reply(raw=b"<html>gateway</html>"))
    pending = VideoFactory(owner=export.owner)
    before = scrape(live_server)
    export_run = executor.run("process-clips", process_event(export))
    video_run = executor.run("identify-clips", identify_event(pending))
    after = scrape(live_server)

    assert export_run.status == video_run.status == "failed"
    assert value(after, "korai_jobs", kind="export", status="failed") == 1
    assert value(after, "korai_jobs", kind="video", status="failed") == 1
    api = "korai_external_api_call_duration_seconds_count"
    assert delta(before, after, api, api="process-clips", outcome="refused") == 1
    assert delta(before, after, api, api="identify-clips", outcome="malformed") == 1
    assert delta(before, after, api, outcome="ok") == 0
    steps = "korai_step_duration_seconds_count"
    # The malformed answer failed the identification step (the refusal is recorded as each
    # clip's error by the render step, which itself succeeds).
    assert delta(before, after, steps, step="call-identify-clips-api", outcome="error") == 1


def test_an_event_api_outage_raises_the_outbox_gauge_and_fails_readiness(
    api_client, fake_inngest, live_server, settings
):
    settings.METRICS_TOKEN = "monitoring-test-token"  # readiness's details too
    token = {"Authorization": "Bearer monitoring-test-token"}
    before = scrape(live_server, token)
    assert requests.get(live_server.url + "/readyz/", timeout=10).status_code == 200
    fake_inngest.down()

    response = api_client.post(
        "/api/videos/",
        {"youtube_url": "https://www.youtube.com/watch?v=dQw4w9WgXcQ", "prompt": ""},
        format="json",
    )
    assert response.status_code == 202
    during = scrape(live_server, token)
    ready = requests.get(live_server.url + "/readyz/", headers=token, timeout=10)

    assert delta(before, during, "korai_outbox_undelivered_events") == 1
    assert value(during, "korai_outbox_oldest_undelivered_age_seconds") > 0
    api = "korai_external_api_call_duration_seconds_count"
    assert delta(before, during, api, api="inngest-events", outcome="retriable") == 1
    assert ready.status_code == 503
    assert ready.json()["inngest"].startswith("Unavailable: event API at")
    assert ready.json()["database"] == "OK"

    fake_inngest.up()
    assert events_resend_undelivered().delivered == 1
    recovered = scrape(live_server, token)
    assert value(recovered, "korai_outbox_undelivered_events") == 0
    assert value(recovered, "korai_outbox_oldest_undelivered_age_seconds") == 0
    assert not OutboxEvent.objects.filter(delivered_at__isnull=True).exists()
    assert requests.get(live_server.url + "/readyz/", timeout=10).status_code == 200
