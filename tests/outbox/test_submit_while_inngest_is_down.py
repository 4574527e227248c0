"""The API stays fast while Inngest is down, and `resend_events` makes up for it afterwards."""

import time
from io import StringIO

import pytest
from django.core.management import call_command

from outbox import dispatch
from outbox.models import OutboxEvent
from videos.models import Video

pytestmark = pytest.mark.django_db(transaction=True)

IDENTIFY = "video/identify.clips"


@pytest.fixture
def unthrottled(settings):
    settings.REST_FRAMEWORK = {
        **settings.REST_FRAMEWORK,
        "DEFAULT_THROTTLE_RATES": {"video_submit": "10000/hour", "export_create": "10000/hour"},
    }


def _submit(api_client, n):
    response = api_client.post(
        "/api/videos/",
        {"youtube_url": f"https://www.youtube.com/watch?v=abcdefg{n:04d}", "prompt": "funny"},
        format="json",
    )
    assert response.status_code == 202, response.content
    assert response.json()["processing_status"] == "pending"
    return response.json()["id"]


@pytest.mark.parametrize("mode", ["down", "hang"])
def test_submission_answers_202_quickly_while_the_event_api_is_unavailable(
    api_client, fake_inngest, unthrottled, mode
):
    getattr(fake_inngest, mode)()

    started = time.monotonic()
    video_id = _submit(api_client, 1)
    elapsed = time.monotonic() - started

    # One short attempt (INNGEST_SEND_TIMEOUT_SECONDS = 1 s) and no retry loop.
    assert elapsed < 3
    event = OutboxEvent.objects.get(job_id=video_id)
    assert event.delivered_at is None
    assert event.attempts == 1
    assert fake_inngest.events == []


@pytest.mark.parametrize("delivery", ["inline", "background"])
def test_hundred_submissions_half_during_an_outage_each_delivered_exactly_once(
    api_client, fake_inngest, unthrottled, settings, delivery
):
    settings.OUTBOX_DELIVERY = delivery
    fake_inngest.down()
    first_half = [_submit(api_client, n) for n in range(50)]
    assert dispatch.flush(timeout=30)  # the outage has been met before Inngest comes back
    fake_inngest.up()
    second_half = [_submit(api_client, n) for n in range(50, 100)]
    assert dispatch.flush(timeout=30)

    assert OutboxEvent.objects.filter(delivered_at__isnull=True).count() == 50
    assert len(fake_inngest.events) == 50

    call_command("resend_events", stdout=StringIO(), stderr=StringIO())

    video_ids = first_half + second_half
    assert Video.objects.filter(pk__in=video_ids).count() == 100
    expected = {f"{IDENTIFY}:{video_id}:1": 1 for video_id in video_ids}
    assert fake_inngest.id_counts() == expected
    for received in fake_inngest.events:
        assert received["name"] == IDENTIFY
        assert received["id"] == f"{IDENTIFY}:{received['data']['videoId']}:1"
    events = OutboxEvent.objects.filter(job_id__in=video_ids, name=IDENTIFY)
    assert events.count() == 100
    assert not events.filter(delivered_at__isnull=True).exists()
    # The first half was tried at submission and once more by the resend; no row more often.
    assert sorted(events.values_list("attempts", flat=True)) == [1] * 50 + [2] * 50
