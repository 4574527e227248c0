"""The executor drives a run as the Inngest server does, over real HTTP against the live server
(through a proxy where an answer must come from something in front of Korai): which answers
are retried and how long it waits, what a run's end reports, and a cancelled run's request
given up while its step still runs."""

import itertools
import logging
import threading
import time

import pytest
from django.conf import settings

from devtools.answers import new_ulid
from devtools.dev_executor import DevExecutor
from devtools.executor import Backoff, InngestExecutor, Run, StepConcurrency
from devtools.registry import FunctionSpec, Registry
from exports import functions
from exports.models import Export
from tests.exports.test_functions import event_for as export_event
from tests.exports.test_functions import make_export
from tests.factories import VideoFactory
from tests.fakes.clips_api import Reply
from videos.models import Video
from videos.services import identify_event

pytestmark = pytest.mark.django_db(transaction=True)

OTHER_KEY = "signkey-test-" + "ef" * 32
ATTEMPTS = settings.INNGEST_RETRIES + 1
# Read by the fake_clips_api fixture: a held call answers only when the test lets it.
CLIPS_API_READ_TIMEOUT_SECONDS = 20.0


@pytest.fixture
def video(user):
    return VideoFactory(owner=user)


def wait_for(predicate, timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.02)


# --- answers: what is retried ------------------------------------------------------------------


def test_a_refused_signature_is_retried_like_any_failed_request(live_server, fake_clips_api, video):
    def key_fixed(attempt):
        executor.signing_key = settings.INNGEST_SIGNING_KEY

    executor = InngestExecutor(base_url=live_server.url, signing_key=OTHER_KEY)
    executor.before_retry = key_fixed
    run = executor.run("identify-clips", identify_event(video))

    assert run.status == "completed"
    assert run.responses[0] == 401 and 401 not in run.responses[1:]


def test_a_run_refused_on_every_attempt_fails_with_the_status_and_reports_it(
    live_server, fake_clips_api, video, caplog
):
    executor = InngestExecutor(base_url=live_server.url, signing_key=OTHER_KEY)
    with caplog.at_level(logging.WARNING, logger="devtools.executor"):
        run = executor.run("identify-clips", identify_event(video))

    assert run.status == "failed"
    assert run.responses == [401] * ATTEMPTS
    assert run.error["message"] == "Your server returned HTTP 401 before the SDK responded."
    # Its failure handler runs as a run of its own, with its one attempt; refused too (the same
    # key), which is logged, not raised.
    [handler] = run.reports
    assert handler.function_id == "korai-app-identify-clips-failed"
    # Retried like any function: the SDK's on_failure had one attempt.
    assert (handler.status, handler.responses) == ("failed", [401] * (settings.INNGEST_RETRIES + 1))
    assert "korai-app-identify-clips-failed run" in caplog.text


def test_a_function_the_endpoint_does_not_serve_is_retried_then_fails(live_server):
    gone = FunctionSpec(
        id="korai-app-gone", name="gone", triggers=(), crons=(), cancel=(), max_attempts=3
    )
    executor = InngestExecutor(base_url=live_server.url, registry=Registry("korai-app", (gone,)))
    run = executor.run("gone", {"name": "gone/start"})

    assert (run.status, run.responses) == ("failed", [404] * 3)
    assert "HTTP 404" in run.error["message"]


def test_a_proxys_answers_and_dropped_connections_are_retried_on_the_servers_schedule(
    proxy, fake_clips_api, video
):
    proxy.answer(503)
    proxy.answer(200, body=b"<html>maintenance</html>")  # a 2xx, but not from the SDK
    proxy.drop()
    backoff = Backoff(scale=0.01, jitter=False)
    run = InngestExecutor(base_url=proxy.url, backoff=backoff).run(
        "identify-clips", identify_event(video)
    )

    assert run.status == "completed"
    assert run.responses[:4] == [503, 200, None, 206]
    sent = [at for at, _ in proxy.requests[:4]]
    waits = [later - earlier for earlier, later in itertools.pairwise(sent)]
    assert waits[0] >= 0.15 and waits[1] >= 0.3 and waits[2] >= 0.6  # 15 s, 30 s, 1 m scaled


def test_retry_after_replaces_the_schedule_scaled_the_same(proxy, fake_clips_api, video):
    proxy.answer(503, headers={"Retry-After": "2"})
    backoff = Backoff(scale=0.25, jitter=False)
    run = InngestExecutor(base_url=proxy.url, backoff=backoff).run(
        "identify-clips", identify_event(video)
    )

    assert run.status == "completed" and run.retry_after == ["2"]
    first, second = (at for at, _ in proxy.requests[:2])
    assert 0.5 <= second - first < 3.75  # 2 s scaled, not the table's 15 s


def test_every_request_carries_the_functions_max_attempts(proxy, fake_clips_api, video):
    InngestExecutor(base_url=proxy.url).run("identify-clips", identify_event(video))

    assert {body["ctx"]["max_attempts"] for _, body in proxy.requests} == {ATTEMPTS}


# --- the end of a run --------------------------------------------------------------------------


def test_a_failed_run_reports_function_failed_to_its_handler_as_a_run_of_its_own(
    executor, fake_clips_api, video
):
    fake_clips_api.queue("identify", Reply(status=422, body={"detail": "video is private"}))
    run = executor.run("identify-clips", identify_event(video))

    assert run.status == "failed"
    [handler] = run.reports
    assert handler.function_id == "korai-app-identify-clips-failed"
    assert handler.status == "completed"
    failed = handler.event
    assert (failed["name"], failed["id"]) == ("inngest/function.failed", run.run_id)
    assert failed["data"]["function_id"] == "korai-app-identify-clips"
    assert failed["data"]["run_id"] == run.run_id
    assert failed["data"]["event"] == failed["data"]["events"][0] == run.event
    assert failed["data"]["_inngest"] == {"status": "Failed"}
    assert "video is private" in failed["data"]["error"]["message"]
    video.refresh_from_db()
    assert video.status == Video.Status.FAILED


def test_a_failure_handler_that_fails_is_logged_not_raised(executor, caplog):
    unknown = {"id": "e-1", "name": "video/identify.clips", "data": {"videoId": "not-an-id"}}
    run = Run(run_id=new_ulid(), error={"name": "Error", "message": "gave up"})
    with caplog.at_level(logging.WARNING, logger="devtools.executor"):
        assert executor.fail("identify-clips", unknown, run) is None

    [handler] = run.reports
    assert handler.status == "failed"
    # identify-clips-failed is retried like any function (the SDK's on_failure had 1 attempt).
    assert handler.requests >= settings.INNGEST_RETRIES + 1
    assert "not a valid id" in caplog.text


# --- cancelling a run with a request in flight -------------------------------------------------


def test_a_cancelled_runs_request_is_given_up_and_its_concurrency_slot_freed(
    live_server, fake_clips_api, user
):
    video = VideoFactory(owner=user, status=Video.Status.COMPLETED)
    first, second = make_export(video), make_export(video, [(100.0, 130.0), (200.0, 230.0)])
    answer = threading.Event()
    fake_clips_api.queue("process", Reply(hold=answer))  # the first render waits for the test
    executor = InngestExecutor(
        base_url=live_server.url, concurrency=StepConcurrency(functions.process_clips)
    )
    dev = DevExecutor(executor=executor, workers=2)
    try:
        [held] = dev.dispatch(export_event(first))
        wait_for(lambda: fake_clips_api.count("process") == 1)

        assert dev.cancel_run(held.run_id)
        wait_for(lambda: any(run.status == "cancelled" for run in dev.finished))
        # Same video, one step at a time: the second render's step is driven while the first
        # one still runs on the Django side. The video's render lease (exports.leases), not the
        # engine, keeps it from calling the processing API meanwhile.
        dev.dispatch(export_event(second))
        wait_for(
            lambda: any(
                "waiting for export" in line["detail"]
                for line in Export.objects.get(pk=second.pk).timeline
            )
        )
        assert fake_clips_api.count("process") == 1
    finally:
        answer.set()
        wait_for(lambda: not dev.active)
        dev.close()

    second.refresh_from_db()
    assert second.status == Export.Status.COMPLETED
