"""The background sender: committed events leave the request at once and are delivered by a
thread of the process; whatever it cannot deliver stays for resend_events."""

import queue
import time
from io import StringIO

import pytest
from django.core.management import call_command

from outbox import dispatch
from outbox.models import OutboxEvent

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def background(settings):
    settings.OUTBOX_DELIVERY = "background"
    settings.INNGEST_SEND_TIMEOUT_SECONDS = 1.0
    yield
    assert dispatch.flush(timeout=10), "the sender thread did not drain its queue"


def _submit(api_client, n=1):
    started = time.monotonic()
    response = api_client.post(
        "/api/videos/",
        {"youtube_url": f"https://youtu.be/bgsender{n:03d}"},
        format="json",
    )
    assert response.status_code == 202, response.content
    return response.json()["id"], time.monotonic() - started


def test_events_are_delivered_by_the_sender_thread(api_client, fake_inngest):
    video_id, _ = _submit(api_client)

    assert dispatch.flush(timeout=10)
    event = OutboxEvent.objects.get(job_id=video_id)
    assert event.delivered_at is not None
    assert fake_inngest.event_ids() == [event.event_id]


def test_a_hanging_event_api_costs_the_request_nothing(api_client, fake_inngest):
    fake_inngest.hang()

    video_id, elapsed = _submit(api_client)

    # Inline delivery would wait out the 1 s timeout inside the request.
    assert elapsed < 0.5
    assert dispatch.flush(timeout=10)
    event = OutboxEvent.objects.get(job_id=video_id)
    assert event.delivered_at is None
    assert event.attempts == 1
    assert "did not answer" in event.last_error

    fake_inngest.up()
    call_command("resend_events", stdout=StringIO(), stderr=StringIO())
    assert fake_inngest.id_counts() == {event.event_id: 1}


def test_a_full_queue_leaves_the_event_for_resend_events(
    api_client, fake_inngest, monkeypatch, caplog
):
    full = queue.Queue(maxsize=1)
    full.put_nowait(["placeholder"])
    monkeypatch.setattr(dispatch, "_pending", full)
    monkeypatch.setattr(dispatch, "_ensure_sender", lambda: None)

    video_id, _ = _submit(api_client)

    assert "queue is full" in caplog.text
    assert OutboxEvent.objects.get(job_id=video_id).delivered_at is None
    full.get_nowait()
    full.task_done()  # leave the real queue's bookkeeping as it was
    call_command("resend_events", stdout=StringIO(), stderr=StringIO())
    assert len(fake_inngest.events) == 1


def test_a_rollback_queues_nothing(user, fake_inngest):
    from django.db import transaction

    from videos.services import video_submit

    with pytest.raises(RuntimeError), transaction.atomic():
        video_submit(owner=user, youtube_url="https://youtu.be/rolledback1")
        raise RuntimeError("the request failed after recording")

    assert dispatch.flush(timeout=5)
    assert not OutboxEvent.objects.exists()
    assert fake_inngest.events == []


def test_events_queued_together_share_one_post(user, fake_inngest, monkeypatch):
    from django.db import transaction

    from outbox import delivery
    from videos.services import video_submit

    posts = []
    real_post = delivery._post
    monkeypatch.setattr(
        delivery, "_post", lambda payload: posts.append(payload) or real_post(payload)
    )
    fake_inngest.hang()  # the sender's first POST blocks; the next commits queue up meanwhile
    with transaction.atomic():
        first = video_submit(owner=user, youtube_url="https://youtu.be/batchfirst1")
    deadline = time.monotonic() + 5
    while not posts and time.monotonic() < deadline:  # the sender is inside its first POST
        time.sleep(0.01)
    queued = []
    for n in range(5):
        with transaction.atomic():
            queued.append(
                video_submit(owner=user, youtube_url=f"https://youtu.be/batchnext{n:02d}")
            )
    fake_inngest.up()  # releases the hanging POST (it fails) and accepts the next

    assert dispatch.flush(timeout=10)
    assert [len(payload) for payload in posts] == [1, 5]
    delivered = OutboxEvent.objects.filter(delivered_at__isnull=False)
    assert set(delivered.values_list("job_id", flat=True)) == {v.pk for v in queued}
    assert OutboxEvent.objects.get(job_id=first.pk).delivered_at is None  # left for resend_events


def test_flush_timeout_covers_a_connect_and_a_read_timeout_per_post(settings):
    settings.INNGEST_SEND_TIMEOUT_SECONDS = 2.0

    # The POST under way, then one per SEND_BATCH_SIZE queued commits; a second for the database.
    assert dispatch.flush_timeout(0) == 1 * 4.0 + 1
    assert dispatch.flush_timeout(1) == 2 * 4.0 + 1
    assert dispatch.flush_timeout(dispatch.SEND_BATCH_SIZE + 1) == 3 * 4.0 + 1
