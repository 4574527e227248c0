"""The development executor: outbox events driven through the live server's /api/inngest over
HTTP (signed with the test keys), runs in parallel, cancellation, and the command's refusals."""

import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import inngest
import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from core.inngest import inngest_client
from devtools.dev_executor import DevExecutor
from devtools.executor import Backoff, InngestExecutor
from devtools.expressions import UnsupportedExpression, compile_expression
from devtools.registry import FunctionSpec, served_registry
from exports.models import Export
from exports.services import export_create
from outbox.models import OutboxEvent
from tests.fakes.clips_api import Reply
from videos.deletion import video_delete
from videos.models import Video
from videos.services import video_submit

URL = "https://www.youtube.com/watch?v=dQw4w9WgXcQ"
CANCELLED = "inngest/function.cancelled"
OTHER_URL = "https://www.youtube.com/watch?v=9bZkp7q19f0"


def _wait_for(predicate, timeout: float = 10) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.02)


def job_runs(dev) -> list:
    """The runs of the job functions themselves, without the `-failed`/`-cancelled` runs that
    their ends start."""
    return [run for run in dev.finished if not run.function_id.endswith(("-failed", "-cancelled"))]


def _settle(dev: DevExecutor, timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while dev.active:
        assert time.monotonic() < deadline, f"runs still active: {dev.active}"
        time.sleep(0.05)


def test_runs_the_outbox_to_a_completed_video_and_export(dev, user):
    video = video_submit(owner=user, youtube_url=URL)
    event = OutboxEvent.objects.get(job_id=video.pk)
    assert event.delivered_at is None and event.last_error  # the event API is down

    assert dev.poll_once() == 1
    _settle(dev)

    video.refresh_from_db()
    assert video.status == Video.Status.COMPLETED
    assert video.total_clips == 3
    event.refresh_from_db()
    assert event.delivered_at is not None and event.last_error == ""
    assert dev.poll_once() == 0  # taken once: no second run
    assert [run.status for run in dev.finished] == ["completed"]
    assert video.inngest_run_id == dev.finished[0].run_id

    export = export_create(
        video=video, owner=user, aspect_ratio="9:16", clip_ids=[video.clips.first().pk]
    )
    assert dev.poll_once() == 1
    _settle(dev)

    export.refresh_from_db()
    assert export.status == Export.Status.COMPLETED
    assert export.exported_clips.exclude(s3_key="").count() == 1
    assert not OutboxEvent.objects.filter(delivered_at__isnull=True).exists()


@pytest.mark.django_db(transaction=True)
def test_a_slow_run_does_not_hold_up_another(dev, fake_clips_api, user):
    fake_clips_api.queue("identify", Reply(hang=2))  # the first call hangs (then times out)
    slow = video_submit(owner=user, youtube_url=URL)
    assert dev.poll_once() == 1
    deadline = time.monotonic() + 5
    while fake_clips_api.count("identify") < 1 and time.monotonic() < deadline:
        time.sleep(0.02)
    fast = video_submit(owner=user, youtube_url=OTHER_URL)
    assert dev.poll_once() == 1
    _settle(dev)

    finished = [run.output["videoId"] for run in dev.finished]
    assert finished == [str(fast.pk), str(slow.pk)]
    for video in (slow, fast):
        video.refresh_from_db()
        assert video.status == Video.Status.COMPLETED


@pytest.mark.django_db(transaction=True)
def test_a_cancel_event_stops_driving_the_run(live_server, fake_clips_api, user):
    # identify-clips as served: cancelled by its video's cancel (or delete) event.
    registry = served_registry()
    assert [rule.event for rule in registry.get("identify-clips").cancel] == [
        "video/identify.cancelled",
        "video/deleted",
        "video/deleted",
    ]
    # Every identify call fails, and the executor waits 30 s before its first retry.
    fake_clips_api.queue("identify", Reply(status=502), times=10)
    executor = InngestExecutor(
        base_url=live_server.url, registry=registry, backoff=Backoff(scale=2, jitter=False)
    )
    dev = DevExecutor(executor=executor, workers=2)
    try:
        video = video_submit(owner=user, youtube_url=URL)
        [active] = dev.dispatch(_sent(video))
        deadline = time.monotonic() + 10
        while fake_clips_api.count("identify") < 1 and time.monotonic() < deadline:
            time.sleep(0.02)

        # A cancel names the event of the run it is meant for: another run's is not this one's.
        cancelled = {"name": "video/identify.cancelled"}
        dev.dispatch({**cancelled, "data": {"videoId": str(video.pk), "runEventId": "e0"}})
        assert not active.cancel.is_set()
        started = time.monotonic()
        run_event = {"videoId": str(video.pk), "runEventId": video.run_event_id}
        dev.dispatch({**cancelled, "data": run_event})
        _settle(dev)
        assert time.monotonic() - started < 5  # not after the 30 s backoff
    finally:
        dev.close()

    [run] = job_runs(dev)
    assert run.status == "cancelled"
    assert fake_clips_api.count("identify") == 1  # no retry after the cancel
    video.refresh_from_db()
    assert video.status != Video.Status.FAILED  # a cancel is not a failure


@pytest.mark.django_db(transaction=True)
def test_a_cancel_before_its_run_is_ignored_and_its_redelivery_cancels(
    dev, fake_clips_api, user, settings
):
    settings.CLIPS_API_READ_TIMEOUT_SECONDS = 20  # the held call answers when the test says
    answer = threading.Event()
    fake_clips_api.queue("identify", Reply(hold=answer))
    video = video_submit(owner=user, youtube_url=URL)
    cancel = {
        "id": "c1",
        "name": "video/identify.cancelled",
        "data": {"videoId": str(video.pk), "runEventId": video.run_event_id},
    }

    dev.dispatch(cancel)  # no run yet: nothing to cancel, and nothing kept for later
    [active] = dev.dispatch(_sent(video))
    _wait_for(lambda: fake_clips_api.count("identify") == 1)
    assert not active.cancel.is_set()
    dev.dispatch(cancel)  # the same event again: matched like any other
    answer.set()
    _settle(dev)

    assert [run.status for run in job_runs(dev)] == ["cancelled"]


@pytest.mark.django_db(transaction=True)
def test_an_event_id_a_function_has_seen_starts_no_second_run(dev, user):
    video = video_submit(owner=user, youtube_url=URL)
    event = _sent(video)
    assert len(dev.dispatch(event)) == 1
    _settle(dev)

    assert dev.dispatch(event) == []
    assert len(dev.dispatch({**event, "id": "e2"})) == 1  # another id: another run
    _settle(dev)
    assert [run.event["id"] for run in job_runs(dev)] == [event["id"], "e2"]


@pytest.mark.django_db(transaction=True)
def test_a_failed_runs_handler_runs_on_the_pool_as_a_run_of_its_own(dev, fake_clips_api, user):
    fake_clips_api.queue("identify", Reply(status=422, body={"detail": "video is private"}))
    video = video_submit(owner=user, youtube_url=URL)
    assert dev.poll_once() == 1
    _settle(dev)

    assert sorted((run.function_id, run.status) for run in dev.finished) == [
        ("korai-app-identify-clips", "failed"),
        ("korai-app-identify-clips-failed", "completed"),
    ]
    video.refresh_from_db()
    assert video.status == Video.Status.FAILED


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("by", ["cancel event", "operator"])
def test_a_cancelled_run_reports_function_cancelled_not_a_failure(
    dev, fake_clips_api, user, settings, by
):
    settings.CLIPS_API_READ_TIMEOUT_SECONDS = 20  # the held call answers when the test says
    answer = threading.Event()
    fake_clips_api.queue("identify", Reply(hold=answer))
    video = video_submit(owner=user, youtube_url=URL)
    [active] = dev.dispatch(_sent(video))
    _wait_for(lambda: fake_clips_api.count("identify") == 1)

    if by == "operator":
        assert dev.cancel_run(active.run_id)
    else:
        dev.dispatch(
            {
                "name": "video/identify.cancelled",
                "data": {"videoId": str(video.pk), "runEventId": video.run_event_id},
            }
        )
    answer.set()
    _settle(dev)

    # No failure handler: the run's end reaches identify-clips-cancelled only.
    assert sorted((run.function_id, run.status) for run in dev.finished) == [
        ("korai-app-identify-clips", "cancelled"),
        ("korai-app-identify-clips-cancelled", "completed"),
    ]
    [run] = job_runs(dev)
    assert run.status == "cancelled"
    [cancelled] = [got.event for got in dev.received if got.event["name"] == CANCELLED]
    assert cancelled["id"] == run.run_id
    assert cancelled["data"]["function_id"] == "korai-app-identify-clips"
    assert cancelled["data"]["run_id"] == run.run_id
    assert cancelled["data"]["event"] == run.event
    assert cancelled["data"]["_inngest"] == {"status": "Cancelled"}
    assert not dev.cancel_run(run.run_id)  # over: nothing to cancel
    video.refresh_from_db()
    assert video.status == Video.Status.CANCELLED  # whoever cancelled it


@pytest.mark.django_db(transaction=True)
def test_a_restarted_executor_runs_again_the_job_the_stopped_one_had_in_flight(
    live_server, fake_clips_api, user, settings
):
    settings.CLIPS_API_READ_TIMEOUT_SECONDS = 20  # the held call answers when the test says
    answer = threading.Event()
    fake_clips_api.queue("identify", Reply(hold=answer))
    first = DevExecutor(executor=InngestExecutor(base_url=live_server.url), workers=2)
    video = video_submit(owner=user, youtube_url=URL)
    assert first.poll_once() == 1
    _wait_for(lambda: fake_clips_api.count("identify") == 1)  # in call-identify-clips-api

    first.close()  # stopped mid-call, as `make run` is: nothing of its run reported
    answer.set()
    _wait_for(lambda: fake_clips_api.calls[0].answered)
    video.refresh_from_db()
    assert video.status == Video.Status.PROCESSING
    assert [got.event["name"] for got in first.received] == ["video/identify.clips"]
    waiting = video_submit(owner=user, youtube_url=OTHER_URL)  # its event not taken yet

    second = DevExecutor(executor=InngestExecutor(base_url=live_server.url), workers=2)
    try:
        resumed = second.resume()
        assert (resumed.videos, resumed.exports, resumed.deletions) == ([str(video.pk)], [], [])
        assert second.poll_once() == 2  # the rerun's event and the waiting one's, once each
        _settle(second)
    finally:
        second.close()

    for job in (video, waiting):
        job.refresh_from_db()
        assert (job.status, job.total_clips, job.clips.count()) == ("completed", 3, 3)
    assert video.attempts == 2 and waiting.attempts == 1
    assert fake_clips_api.count("identify") == 3


@pytest.mark.django_db(transaction=True)
def test_a_restarted_executor_finishes_a_deletion_whose_second_sweep_was_pending(
    live_server, fake_clips_api, user, settings, s3
):
    settings.KORAI_CLEANUP_SWEEP_DELAY_SECONDS = 600  # the first executor stops in the sleep
    video = Video.objects.get(pk=video_submit(owner=user, youtube_url=URL).pk)
    s3.put(video.s3_key, b"source video")
    first = DevExecutor(
        executor=InngestExecutor(base_url=live_server.url, honour_sleeps=True), workers=2
    )
    OutboxEvent.objects.update(delivered_at=timezone.now())  # only the delete's event runs
    Video.objects.filter(pk=video.pk).update(status=Video.Status.COMPLETED)
    deletion = video_delete(video=video)
    assert first.poll_once() == 1
    _wait_for(lambda: any(run.sleeps for run in first.executor.recorded_runs()))
    assert s3.keys(video.storage_prefix) == []  # the first sweep
    s3.put(f"{video.storage_prefix}clip_0.mp4", b"a render that was in flight")

    first.close()  # stopped in the sleep: the second sweep never comes
    deletion.refresh_from_db()
    assert deletion.pending

    second = DevExecutor(executor=InngestExecutor(base_url=live_server.url), workers=2)
    try:
        resumed = second.resume()
        assert (resumed.videos, resumed.deletions) == ([], [str(deletion.pk)])
        assert second.resume().deletions == []  # its event waits in the outbox now
        assert second.poll_once() == 1
        _settle(second)
    finally:
        second.close()

    deletion.refresh_from_db()
    assert not deletion.pending and deletion.last_error == ""
    assert s3.keys(video.storage_prefix) == []


def _sent(video) -> dict:
    """The video's event as the outbox sends it."""
    event = OutboxEvent.objects.get(job_id=video.pk)
    return {"id": event.event_id, "name": event.name, "data": event.data, "ts": 0}


def test_functions_are_matched_by_their_own_configs():
    fn = inngest_client.create_function(
        fn_id="devtools-probe",
        trigger=inngest.TriggerEvent(event="probe/start", expression="event.data.kind == 'a'"),
        cancel=[inngest.Cancel(event="probe/stop", if_exp="event.data.id == async.data.id")],
        retries=1,
    )(lambda ctx: None)
    spec = FunctionSpec.from_config(fn.get_config("http://x/api/inngest").main.to_dict())

    assert spec.max_attempts == 2
    assert spec.triggered_by({"name": "probe/start", "data": {"kind": "a"}})
    assert not spec.triggered_by({"name": "probe/start", "data": {"kind": "b"}})
    assert not spec.triggered_by({"name": "probe/other", "data": {"kind": "a"}})
    run_event = {"name": "probe/start", "data": {"id": 7}}
    assert spec.cancelled_by({"name": "probe/stop", "data": {"id": 7}}, run_event)
    assert not spec.cancelled_by({"name": "probe/stop", "data": {"id": 8}}, run_event)
    assert not spec.cancelled_by({"name": "probe/stop", "data": {}}, run_event)


def test_retries_above_twenty_are_cut_to_twenty():
    fn = inngest_client.create_function(
        fn_id="devtools-probe-retries", trigger=inngest.TriggerEvent(event="probe/x"), retries=25
    )(lambda ctx: None)
    spec = FunctionSpec.from_config(fn.get_config("http://x/api/inngest").main.to_dict())
    assert spec.max_attempts == 21


def test_the_served_functions_and_their_failure_handlers_are_found():
    registry = served_registry()
    failed = {
        "name": "inngest/function.failed",
        "data": {"function_id": "korai-app-identify-clips"},
    }
    assert [s.id for s in registry.triggered_by(failed)] == ["korai-app-identify-clips-failed"]
    assert [s.id for s in registry.triggered_by({"name": "clips/process", "data": {}})] == [
        "korai-app-process-clips"
    ]


@pytest.mark.parametrize("expression", ["event.data.a > 1", "size(event.data) == 1", "x == 1"])
def test_expressions_it_cannot_evaluate_are_refused(expression):
    with pytest.raises(UnsupportedExpression):
        compile_expression(expression)


def test_backoff_follows_the_servers_table_and_clips_retry_after():
    backoff = Backoff(scale=1, jitter=False)
    assert [backoff.delay(n) for n in range(1, 13)] == [
        15, 30, 60, 120, 300, 600, 1200, 2400, 3600, 7200, 7200, 7200
    ]  # fmt: skip
    assert all(15 <= Backoff(scale=1).delay(1) < 45 for _ in range(20))  # up to 30 s of jitter
    assert backoff.delay(1, "3") == 3
    assert backoff.delay(1, "0") == 1  # at least 1 s
    assert backoff.delay(1, "2000-01-01T00:00:00Z") == 1
    assert backoff.delay(1, "Wed, 21 Oct 2099 07:28:00 GMT") == 24 * 3600  # at most 24 h
    assert Backoff(scale=0.001, jitter=False).delay(2, "10") == 0.01
    assert Backoff(scale=1, cap=60).delay(9) == 60
    assert Backoff().delay(3, "3") == 0  # the tests' executor never waits


def test_the_command_refuses_outside_dev_mode(settings):
    settings.INNGEST_DEV = ""
    with pytest.raises(CommandError, match="only with INNGEST_DEV=1"):
        call_command("dev_executor")


def test_the_command_refuses_production_keys(settings):
    settings.INNGEST_DEV = "1"
    settings.INNGEST_SIGNING_KEY = "signkey-prod-" + "ab" * 32
    with pytest.raises(CommandError, match="production key"):
        call_command("dev_executor")


def test_the_command_stays_off_while_a_dev_server_answers(settings):
    class Answer(BaseHTTPRequestHandler):
        def do_GET(self):
            self.send_response(200)
            self.end_headers()

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Answer)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        settings.INNGEST_BASE_URL = ""
        settings.INNGEST_DEV = f"http://127.0.0.1:{server.server_address[1]}"
        with pytest.raises(CommandError, match="Dev Server answers"):
            call_command("dev_executor")
    finally:
        server.shutdown()
        server.server_close()
