import time

import pytest
from django.db import transaction

from exports.models import Export
from outbox.delivery import (
    DeliveryReport,
    event_payload,
    events_deliver,
    inngest_event_api_url,
)
from outbox.models import OutboxEvent
from outbox.services import event_record, events_resend_undelivered
from tests.factories import ExportFactory, VideoFactory
from videos.models import Video

# Real commits: after-commit delivery only happens when a transaction really commits.
pytestmark = pytest.mark.django_db(transaction=True)

IDENTIFY = "video/identify.clips"
PROCESS = "clips/process"


def _record(video, **data):
    return event_record(name=IDENTIFY, data={"videoId": str(video.pk), **data}, job=video)


def test_event_id_is_name_subject_and_count_of_earlier_events():
    video = VideoFactory()
    export = ExportFactory(video=video)

    first = _record(video)
    second = _record(video)
    process = event_record(name=PROCESS, data={"exportId": str(export.pk)}, job=export)

    assert first.event_id == f"{IDENTIFY}:{video.pk}:1"
    assert second.event_id == f"{IDENTIFY}:{video.pk}:2"
    assert process.event_id == f"{PROCESS}:{export.pk}:1"
    # Each event names its own job, of whatever model.
    assert (first.job, process.job) == (video, export)
    assert list(video.events.all()) == [first, second]
    assert list(export.events.all()) == [process]


def test_recorded_event_is_delivered_after_commit_with_its_id(fake_inngest):
    video = VideoFactory()

    event = _record(video, prompt="funny")

    event.refresh_from_db()
    assert event.delivered_at is not None
    assert event.attempts == 1
    assert event.last_error == ""
    [received] = fake_inngest.events
    assert received["id"] == event.event_id
    assert received["name"] == IDENTIFY
    assert received["data"] == {"videoId": str(video.pk), "prompt": "funny"}
    assert received["ts"] == int(event.created_at.timestamp() * 1000)
    assert received["event_key"] == "test-event-key"


def test_nothing_is_sent_before_commit(fake_inngest):
    video = VideoFactory()

    with transaction.atomic():
        _record(video)
        assert fake_inngest.events == []

    assert len(fake_inngest.events) == 1


def test_rollback_after_recording_leaves_neither_row_nor_send(fake_inngest):
    video = VideoFactory()

    with pytest.raises(RuntimeError), transaction.atomic():
        _record(video)
        raise RuntimeError("the rest of the write failed")

    assert not OutboxEvent.objects.exists()
    assert fake_inngest.events == []


def test_event_api_down_leaves_row_undelivered_without_raising(fake_inngest):
    fake_inngest.down()
    video = VideoFactory()

    started = time.monotonic()
    event = _record(video)
    elapsed = time.monotonic() - started

    event.refresh_from_db()
    assert event.delivered_at is None
    assert event.attempts == 1
    assert event.last_attempt_at is not None
    assert event.last_error == (
        f"Inngest event API unreachable: connection refused ({fake_inngest.url})"
    )
    assert elapsed < 1.0


def test_hanging_event_api_costs_one_timeout_at_most(fake_inngest, settings):
    settings.INNGEST_SEND_TIMEOUT_SECONDS = 0.3
    fake_inngest.hang()
    video = VideoFactory()

    started = time.monotonic()
    event = _record(video)
    elapsed = time.monotonic() - started

    event.refresh_from_db()
    assert event.delivered_at is None
    assert "did not answer within 0.3s" in event.last_error
    assert elapsed < 0.3 + 0.5  # one timeout, no retry loop


def test_error_status_is_recorded(fake_inngest):
    fake_inngest.fail(500)
    event = _record(VideoFactory())

    event.refresh_from_db()
    assert event.delivered_at is None
    assert "answered 500" in event.last_error


def test_missing_event_key_outside_dev_mode_is_a_clear_failure(fake_inngest, settings):
    settings.INNGEST_EVENT_KEY = ""
    event = _record(VideoFactory())

    event.refresh_from_db()
    assert event.delivered_at is None
    assert "INNGEST_EVENT_KEY is not set" in event.last_error
    assert fake_inngest.events == []


@pytest.mark.parametrize(
    ("dev", "base", "key", "expected"),
    [
        ("", "", "evt", "https://inn.gs/e/evt"),
        ("1", "", "", "http://127.0.0.1:8288/e/NO_EVENT_KEY_SET"),
        ("http://devserver:9000", "", "", "http://devserver:9000/e/NO_EVENT_KEY_SET"),
        ("", "https://inngest.internal/", "evt", "https://inngest.internal/e/evt"),
    ],
)
def test_event_api_url_follows_settings(settings, dev, base, key, expected):
    settings.INNGEST_DEV = dev
    settings.INNGEST_BASE_URL = base
    settings.INNGEST_EVENT_KEY = key

    assert inngest_event_api_url() == expected


def test_deliver_skips_rows_already_delivered(fake_inngest):
    event = _record(VideoFactory())
    fake_inngest.clear()

    report = events_deliver(events=[event])

    assert report == DeliveryReport(delivered=0, failed=0, skipped=1)
    assert fake_inngest.events == []


def test_resend_delivers_each_missed_event_once_with_the_same_id(fake_inngest):
    fake_inngest.down()
    events = [_record(VideoFactory()) for _ in range(3)]
    fake_inngest.up()

    report = events_resend_undelivered()

    assert (report.delivered, report.failed) == (3, 0)
    assert fake_inngest.event_ids() == [event.event_id for event in events]  # oldest first
    assert not OutboxEvent.objects.filter(delivered_at__isnull=True).exists()
    assert events_resend_undelivered() == DeliveryReport()
    assert len(fake_inngest.events) == 3


def test_resend_tries_each_row_once_per_call_in_bounded_batches(
    fake_inngest, django_assert_max_num_queries
):
    fake_inngest.down()
    for _ in range(5):
        _record(VideoFactory())

    report = events_resend_undelivered(batch_size=2)

    assert (report.delivered, report.failed) == (0, 5)
    assert report.errors and "unreachable" in report.errors[0]
    assert set(OutboxEvent.objects.values_list("attempts", flat=True)) == {2}

    fake_inngest.up()
    # Three batches: a page query, a lock-and-read and an update (plus transaction
    # bookkeeping) each, never one query per row.
    with django_assert_max_num_queries(3 * 6 + 1):
        report = events_resend_undelivered(batch_size=2)
    assert (report.delivered, report.failed) == (5, 0)
    assert sorted(fake_inngest.id_counts().values()) == [1] * 5


def test_resend_limit_takes_the_oldest(fake_inngest):
    fake_inngest.down()
    events = [_record(VideoFactory()) for _ in range(4)]
    fake_inngest.up()

    report = events_resend_undelivered(limit=2)

    assert report.delivered == 2
    assert fake_inngest.event_ids() == [events[0].event_id, events[1].event_id]


def test_resend_for_one_video_or_export(fake_inngest):
    fake_inngest.down()
    video, other = VideoFactory(), VideoFactory()
    export = ExportFactory(video=video)
    identify = _record(video)
    _record(other)
    process = event_record(name=PROCESS, data={}, job=export)
    fake_inngest.up()

    assert events_resend_undelivered(jobs=[Export.objects.filter(pk=export.pk)]).delivered == 1
    assert fake_inngest.event_ids() == [process.event_id]
    assert events_resend_undelivered(jobs=[Video.objects.filter(pk=video.pk)]).delivered == 1
    assert fake_inngest.event_ids() == [process.event_id, identify.event_id]


def test_dry_run_sends_nothing(fake_inngest):
    fake_inngest.down()
    for _ in range(3):
        _record(VideoFactory())
    fake_inngest.up()

    report = events_resend_undelivered(dry_run=True, limit=2)

    assert report == DeliveryReport(skipped=2)
    assert fake_inngest.events == []
    assert OutboxEvent.objects.filter(delivered_at__isnull=True).count() == 3


def test_payload_shape():
    event = _record(VideoFactory())

    assert set(event_payload(event)) == {"id", "name", "data", "ts"}


@pytest.mark.parametrize(
    "kwargs",
    [
        {"name": "", "data": {}},
        {"name": IDENTIFY, "data": ["not", "an", "object"]},
        {"name": IDENTIFY, "data": {}, "no_subject": True},
    ],
)
def test_bad_event_is_refused_and_nothing_written(kwargs):
    video = None if kwargs.pop("no_subject", False) else VideoFactory()

    with pytest.raises(ValueError):
        event_record(job=video, **kwargs)

    assert not OutboxEvent.objects.exists()
