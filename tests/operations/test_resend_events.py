import threading
import time
from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.db import connection, connections
from django.utils import timezone

from exports.models import Export
from outbox.models import OutboxEvent
from outbox.services import event_record
from tests.factories import ExportFactory, VideoFactory
from tests.fakes.clips_api import Reply
from videos.models import Video
from videos.services import video_cancel, video_submit

pytestmark = pytest.mark.django_db(transaction=True)

IDENTIFY = "video/identify.clips"
PROCESS = "clips/process"


def _record(video):
    return event_record(name=IDENTIFY, data={"videoId": str(video.pk)}, job=video)


def _resend(*args):
    out, err = StringIO(), StringIO()
    call_command("resend_events", *args, stdout=out, stderr=err)
    return out.getvalue()


def _age(obj, minutes):
    # updated_at is auto_now: only a queryset update can move it into the past.
    type(obj).objects.filter(pk=obj.pk).update(
        updated_at=timezone.now() - timedelta(minutes=minutes)
    )


def test_delivers_undelivered_and_prints_a_summary(fake_inngest):
    fake_inngest.down()
    events = [_record(VideoFactory()) for _ in range(3)]
    fake_inngest.up()

    out = _resend()

    assert "Delivered 3, failed 0, skipped 0" in out
    assert fake_inngest.event_ids() == [event.event_id for event in events]
    assert "Delivered 0, failed 0" in _resend()
    assert len(fake_inngest.events) == 3


def test_exits_non_zero_when_something_is_not_delivered(fake_inngest):
    fake_inngest.down()
    _record(VideoFactory())

    err = StringIO()
    with pytest.raises(CommandError) as excinfo:
        call_command("resend_events", stdout=StringIO(), stderr=err)

    assert excinfo.value.returncode == 1
    assert "1 event(s) could not be delivered" in str(excinfo.value)
    assert "unreachable" in err.getvalue()
    assert OutboxEvent.objects.get().attempts == 2


def test_dry_run_lists_and_sends_nothing(fake_inngest):
    fake_inngest.down()
    event = _record(VideoFactory())
    fake_inngest.up()

    out = _resend("--dry-run")

    assert f"would send {event.event_id} (tried 1x: Inngest event API unreachable" in out
    assert "1 undelivered event(s) would be sent" in out
    assert fake_inngest.events == []
    assert OutboxEvent.objects.get().attempts == 1


def test_video_export_and_limit_options(fake_inngest):
    fake_inngest.down()
    video = VideoFactory()
    export = ExportFactory(video=video)
    first = _record(VideoFactory())
    second = _record(VideoFactory())
    _record(VideoFactory())
    process = event_record(name=PROCESS, data={}, job=export)
    identify = _record(video)
    fake_inngest.up()

    _resend("--export", str(export.pk))
    assert fake_inngest.event_ids() == [process.event_id]
    _resend("--video", str(video.pk))
    assert fake_inngest.event_ids()[1:] == [identify.event_id]
    _resend("--limit", "2")
    assert fake_inngest.event_ids()[2:] == [first.event_id, second.event_id]


@pytest.mark.parametrize(
    "args",
    [["--video", "nope"], ["--export", "12"], ["--limit", "0"], ["--stuck", "-5"]],
)
def test_bad_options_are_refused(args):
    with pytest.raises(CommandError):
        _resend(*args)


def test_failed_runs_failed_jobs_again_with_a_new_event(fake_inngest):
    failed = VideoFactory(status=Video.Status.FAILED, last_error="boom")
    _record(failed)
    completed = VideoFactory(status=Video.Status.COMPLETED)
    pending = VideoFactory()
    failed_export = ExportFactory(status=Export.Status.FAILED)
    ExportFactory(status=Export.Status.COMPLETED)
    fake_inngest.clear()

    out = _resend("--failed")

    assert f"video {failed.pk}: ran again" in out
    assert f"export {failed_export.pk}: ran again" in out
    failed.refresh_from_db()
    failed_export.refresh_from_db()
    assert failed.status == Video.Status.PENDING
    assert failed_export.status == Export.Status.PENDING
    # A new event, a new id: Inngest starts a new run instead of dropping a duplicate.
    assert sorted(fake_inngest.event_ids()) == sorted(
        [f"{IDENTIFY}:{failed.pk}:2", f"{PROCESS}:{failed_export.pk}:1"]
    )
    assert not completed.events.exists()
    assert not pending.events.exists()


def test_failed_dry_run_changes_nothing(fake_inngest):
    failed = VideoFactory(status=Video.Status.FAILED)

    out = _resend("--failed", "--dry-run")

    assert f"video {failed.pk}: would run again" in out
    failed.refresh_from_db()
    assert failed.status == Video.Status.FAILED
    assert fake_inngest.events == []


def test_stuck_selects_exactly_jobs_without_progress(fake_inngest):
    stuck_pending = VideoFactory()
    _record(stuck_pending)  # delivered: the run never came, or died
    _age(stuck_pending, 30)
    stuck_processing = VideoFactory(status=Video.Status.PROCESSING)
    _age(stuck_processing, 30)
    recent = VideoFactory(status=Video.Status.PROCESSING)
    _age(recent, 5)
    old_done = VideoFactory(status=Video.Status.COMPLETED)
    _age(old_done, 30)
    old_failed = VideoFactory(status=Video.Status.FAILED)
    _age(old_failed, 30)
    stuck_export = ExportFactory(status=Export.Status.PROCESSING)
    _age(stuck_export, 30)
    recent_export = ExportFactory(status=Export.Status.PENDING)
    _age(recent_export, 5)
    fake_inngest.clear()

    out = _resend("--stuck", "10")

    rerun = {line.split()[1].rstrip(":") for line in out.splitlines() if line.endswith("ran again")}
    assert rerun == {str(stuck_pending.pk), str(stuck_processing.pk), str(stuck_export.pk)}
    assert sorted(fake_inngest.event_ids()) == sorted(
        [
            f"{IDENTIFY}:{stuck_pending.pk}:2",
            f"{IDENTIFY}:{stuck_processing.pk}:1",
            f"{PROCESS}:{stuck_export.pk}:1",
        ]
    )


def test_stuck_job_with_an_undelivered_event_is_resent_not_run_twice(fake_inngest):
    fake_inngest.down()
    video = VideoFactory()
    event = _record(video)
    _age(video, 30)
    fake_inngest.up()

    out = _resend("--stuck", "10")

    assert "0 video(s) and 0 export(s) ran again" in out
    assert fake_inngest.event_ids() == [event.event_id]
    assert video.events.count() == 1


@pytest.mark.skipif(
    connection.vendor != "postgresql",
    reason="SQLite has no row locks (SELECT ... FOR UPDATE SKIP LOCKED): two runs at the same "
    "moment may both send a row there, and Inngest drops the duplicate by its event id.",
)
def test_two_concurrent_runs_never_send_the_same_row(fake_inngest):
    fake_inngest.down()
    events = [_record(VideoFactory()) for _ in range(120)]
    fake_inngest.up()
    # Each POST takes a while, so the two runs overlap on every batch.
    fake_inngest.delay = 0.05
    results, errors = [], []
    start = threading.Barrier(2)

    def run():
        try:
            start.wait()
            results.append(_resend())
        except Exception as exc:  # reported below: a thread cannot fail the test itself
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=run) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    assert errors == []
    assert fake_inngest.id_counts() == {event.event_id: 1 for event in events}
    assert not OutboxEvent.objects.filter(delivered_at__isnull=True).exists()


# --- with the background sender (OUTBOX_DELIVERY=background, the production default) --------

postgresql_only = pytest.mark.skipif(
    connection.vendor != "postgresql",
    reason="Only PostgreSQL locks the rows the sender thread is posting (SELECT ... FOR UPDATE "
    "SKIP LOCKED), so only there does the resend pass skip them; on SQLite it sends them again.",
)


@pytest.fixture
def background(settings, monkeypatch):
    """The sender thread delivers the reruns' events; the resend pass starts only once that
    thread is inside its POST (holding the rows' locks), whatever the command does first."""
    from operations.management.commands import resend_events
    from outbox import delivery, dispatch

    settings.OUTBOX_DELIVERY = "background"
    settings.INNGEST_SEND_TIMEOUT_SECONDS = 0.5
    sender_posting = threading.Event()
    real_post = delivery._post

    def post(payload):
        if threading.current_thread().name == "outbox-sender":
            sender_posting.set()
        return real_post(payload)

    real_resend = resend_events.events_resend_undelivered

    def resend(**kwargs):
        assert sender_posting.wait(timeout=10), "the sender thread never posted"
        return real_resend(**kwargs)

    monkeypatch.setattr(delivery, "_post", post)
    monkeypatch.setattr(resend_events, "events_resend_undelivered", resend)
    yield
    assert dispatch.flush(timeout=10), "the sender thread did not drain its queue"


@postgresql_only
def test_failed_exits_non_zero_when_the_senders_attempt_fails(background, fake_inngest):
    failed = VideoFactory(status=Video.Status.FAILED)
    fake_inngest.hang()  # the sender's POST times out, holding the row while it waits

    err = StringIO()
    with pytest.raises(CommandError) as excinfo:
        call_command("resend_events", "--failed", stdout=StringIO(), stderr=err)

    assert excinfo.value.returncode == 1
    assert "1 event(s) could not be delivered" in str(excinfo.value)
    event = OutboxEvent.objects.get(job_id=failed.pk)
    # The sender's attempt, then the resend pass's own once the sender had finished.
    assert (event.delivered_at, event.attempts) == (None, 2)
    assert "did not answer" in err.getvalue()


@postgresql_only
def test_failed_counts_events_the_sender_is_still_posting_as_undelivered(
    background, fake_inngest, monkeypatch, settings
):
    from outbox import dispatch

    # The sender's POST outlasts the command's wait for it.
    settings.INNGEST_SEND_TIMEOUT_SECONDS = 2.0
    monkeypatch.setattr(dispatch, "flush_timeout", lambda commits: 0.1, raising=False)
    failed = VideoFactory(status=Video.Status.FAILED)
    fake_inngest.hang()

    out = StringIO()
    with pytest.raises(CommandError) as excinfo:
        call_command("resend_events", "--failed", stdout=out, stderr=StringIO())

    assert excinfo.value.returncode == 1
    assert "1 of the 1 new event(s) of the jobs run again are still undelivered" in str(
        excinfo.value
    )
    assert "Delivered 0, failed 0, skipped 1" in out.getvalue()
    assert OutboxEvent.objects.get(job_id=failed.pk).delivered_at is None


@postgresql_only
def test_failed_waits_for_the_sender_before_resending(background, fake_inngest):
    failed = VideoFactory(status=Video.Status.FAILED)
    fake_inngest.delay = 0.2  # the sender is still posting when the command gets to its resend

    out = _resend("--failed")

    assert "Delivered 0, failed 0, skipped 0" in out  # the sender had delivered it
    assert fake_inngest.id_counts() == {f"{IDENTIFY}:{failed.pk}:1": 1}
    assert OutboxEvent.objects.get(job_id=failed.pk).delivered_at is not None


def test_cancelled_runs_cancelled_jobs_again_and_only_those(fake_inngest):
    cancelled = VideoFactory(status=Video.Status.CANCELLED)
    failed = VideoFactory(status=Video.Status.FAILED)
    cancelled_export = ExportFactory(status=Export.Status.CANCELLED)
    fake_inngest.clear()

    out = _resend("--cancelled")

    assert f"video {cancelled.pk}: ran again" in out
    assert f"export {cancelled_export.pk}: ran again" in out
    for job in (cancelled, failed, cancelled_export):
        job.refresh_from_db()
    assert (cancelled.status, failed.status) == ("pending", "failed")
    assert cancelled_export.status == Export.Status.PENDING
    assert sorted(fake_inngest.event_ids()) == sorted(
        [f"{IDENTIFY}:{cancelled.pk}:1", f"{PROCESS}:{cancelled_export.pk}:1"]
    )


# --- with the development executor (make run without a Dev Server) ---------------------------


def _settle(dev) -> None:
    deadline = time.monotonic() + 20
    while dev.active:
        assert time.monotonic() < deadline, f"runs still active: {dev.active}"
        time.sleep(0.05)


def _failed_video(dev, fake_clips_api, user) -> Video:
    video = video_submit(owner=user, youtube_url="https://www.youtube.com/watch?v=dQw4w9WgXcQ")
    fake_clips_api.queue("identify", Reply(body={"oops": 1}))  # malformed: fails at once
    assert dev.poll_once() == 1
    _settle(dev)
    video.refresh_from_db()
    assert video.status == Video.Status.FAILED
    return video


def _cancelled_video(dev, fake_clips_api, user) -> Video:
    video = video_submit(owner=user, youtube_url="https://www.youtube.com/watch?v=dQw4w9WgXcQ")
    video_cancel(video=video)
    dev.poll_once()
    _settle(dev)
    video.refresh_from_db()
    assert video.status == Video.Status.CANCELLED
    return video


@pytest.mark.parametrize(
    ("option", "make"), [("--failed", _failed_video), ("--cancelled", _cancelled_video)]
)
def test_with_the_development_executor_a_rerun_left_for_it_is_a_success(
    dev, fake_clips_api, fake_inngest, user, settings, option, make
):
    settings.KORAI_DEV_EXECUTOR_RUNNING = True
    fake_inngest.down()  # no Inngest in this setup
    video = make(dev, fake_clips_api, user)

    out = _resend(option)  # raises CommandError on a non-zero exit

    assert f"video {video.pk}: ran again" in out
    assert "1 event(s) recorded: the development executor will take them" in out
    assert fake_inngest.posts == 0
    assert dev.poll_once() == 1
    _settle(dev)
    video.refresh_from_db()
    assert video.status == Video.Status.COMPLETED
