"""Reconciliation (`jobs.reconcile`, the `reconcile-jobs` cron function) over HTTP: the jobs are
written by their real runs through /api/inngest, and the engine's REST API (`GET /v1/runs/{id}`)
is the fake Inngest's, in the server's shape (tests/fakes/inngest_api.py)."""

import threading
import time
from datetime import timedelta

import pytest
from django.utils import timezone

from devtools.dev_executor import DevExecutor
from devtools.executor import InngestExecutor
from devtools.registry import Registry, served_registry
from outbox.models import OutboxEvent
from tests.fakes.clips_api import Reply
from videos.models import Video
from videos.services import video_submit

URL = "https://www.youtube.com/watch?v=dQw4w9WgXcQ"
CRON_TICK = {"name": "inngest/scheduled.timer", "data": {"cron": "*/5 * * * *"}}

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def engine_losing_endings(live_server, fake_clips_api, fake_inngest):
    """Inngest driving /api/inngest, but whatever it emits when a run ends reaches no handler
    (the `-failed`/`-cancelled` functions' own retries ran out, or Korai was down meanwhile)."""
    served = served_registry()
    registry = Registry(
        app_id=served.app_id,
        functions=tuple(
            spec for spec in served.functions if not spec.id.endswith(("-failed", "-cancelled"))
        ),
    )
    return InngestExecutor(base_url=live_server.url, registry=registry)


def sent(video) -> dict:
    event = OutboxEvent.objects.filter(job_id=video.pk).order_by("-created_at").first()
    return {"id": event.event_id, "name": event.name, "data": event.data, "ts": 0}


def without_progress_for(video, minutes: int) -> None:
    Video.objects.filter(pk=video.pk).update(updated_at=timezone.now() - timedelta(minutes=minutes))


def reconcile(executor) -> dict:
    run = executor.run("reconcile-jobs", CRON_TICK)
    assert run.status == "completed", run.error
    return run.output


def failed_run_left_processing(engine, fake_clips_api, user):
    """A video whose run failed in the engine while nothing told Korai: still `processing`."""
    fake_clips_api.queue("identify", Reply(status=404, body={"detail": "no such video"}))
    video = video_submit(owner=user, youtube_url=URL)
    run = engine.run("identify-clips", sent(video))
    assert run.status == "failed"
    video.refresh_from_db()
    assert (video.status, video.inngest_run_id) == (Video.Status.PROCESSING, run.run_id)
    return video, run


def test_a_job_whose_run_failed_unnoticed_ends_failed(
    engine_losing_endings, fake_clips_api, fake_inngest, user
):
    video, run = failed_run_left_processing(engine_losing_endings, fake_clips_api, user)
    fake_inngest.runs[run.run_id] = "Failed"
    without_progress_for(video, 11)

    report = reconcile(engine_losing_endings)

    assert report["checked"] == 1
    assert report["settled"] == [f"video {video.pk}: its run {run.run_id} ended Failed in Inngest"]
    video.refresh_from_db()
    assert video.status == Video.Status.FAILED
    assert video.last_error == f"reconciliation: its run {run.run_id} ended Failed in Inngest"
    assert video.timeline[-1]["step"] == "reconcile"  # what the admin's timeline shows
    assert fake_inngest.run_requests == [f"/v1/runs/{run.run_id}"]


def test_a_job_whose_run_still_runs_is_left_alone(
    engine_losing_endings, fake_clips_api, fake_inngest, user
):
    video, run = failed_run_left_processing(engine_losing_endings, fake_clips_api, user)
    fake_inngest.runs[run.run_id] = "Running"  # a long render, say
    without_progress_for(video, 11)
    before = Video.objects.get(pk=video.pk)

    report = reconcile(engine_losing_endings)

    assert (report["checked"], report["settled"]) == (1, [])
    after = Video.objects.get(pk=video.pk)
    assert (after.status, after.updated_at, after.timeline) == (
        before.status,
        before.updated_at,
        before.timeline,
    )


def test_a_job_with_recent_progress_is_not_asked_about(
    engine_losing_endings, fake_clips_api, fake_inngest, user
):
    video, run = failed_run_left_processing(engine_losing_endings, fake_clips_api, user)
    fake_inngest.runs[run.run_id] = "Failed"
    without_progress_for(video, 9)  # KORAI_RECONCILE_AFTER_MINUTES is 10

    assert reconcile(engine_losing_endings)["checked"] == 0
    assert fake_inngest.run_requests == []


def test_nothing_changes_while_the_engine_cannot_answer(
    engine_losing_endings, fake_clips_api, fake_inngest, user
):
    video, _run = failed_run_left_processing(engine_losing_endings, fake_clips_api, user)
    without_progress_for(video, 11)
    fake_inngest.fail(503)

    report = reconcile(engine_losing_endings)

    assert report["unreachable"] == "Inngest's API answered 503 for a run"
    video.refresh_from_db()
    assert video.status == Video.Status.PROCESSING


def test_a_run_the_engine_forgot_is_started_again(
    engine_losing_endings, fake_clips_api, fake_inngest, user
):
    video, run = failed_run_left_processing(engine_losing_endings, fake_clips_api, user)
    without_progress_for(video, 11)  # the engine knows no such run (a restarted dev executor)

    # Asked once, the answer might be a blip of the engine's store: it is noted, not acted on.
    assert reconcile(engine_losing_endings)["settled"] == []
    video.refresh_from_db()
    assert video.status == Video.Status.PROCESSING
    assert video.timeline[-1]["detail"] == f"Inngest knows no run {run.run_id}"
    without_progress_for(video, 11)
    report = reconcile(engine_losing_endings)

    assert report["settled"] == [f"video {video.pk}: Inngest knows no run {run.run_id}: sent again"]
    video.refresh_from_db()
    assert video.status == Video.Status.PENDING
    assert video.run_event_id == f"video/identify.clips:{video.pk}:2"
    assert fake_inngest.event_ids()[-1] == video.run_event_id  # delivered to the engine
    # The new event's run does the job.
    assert engine_losing_endings.run("identify-clips", sent(video)).status == "completed"
    video.refresh_from_db()
    assert video.status == Video.Status.COMPLETED


def test_a_delivered_event_whose_run_never_started_is_sent_again_and_paid_once(
    engine_losing_endings, fake_clips_api, fake_inngest, user
):
    video = video_submit(owner=user, youtube_url=URL)  # delivered, but no run starts
    first_event = sent(video)
    without_progress_for(video, 11)

    report = reconcile(engine_losing_endings)

    assert len(report["settled"]) == 1
    video.refresh_from_db()
    assert video.run_event_id == f"video/identify.clips:{video.pk}:2"
    # The first run was only waiting in Inngest's queue: when it starts at last it stops at its
    # first step, calling no API; the new event's run does the job.
    late = engine_losing_endings.run("identify-clips", first_event)
    assert late.status == "completed"  # stopped at its first step, writing nothing
    assert fake_clips_api.count("identify") == 0
    assert engine_losing_endings.run("identify-clips", sent(video)).status == "completed"
    assert fake_clips_api.count("identify") == 1
    video.refresh_from_db()
    assert video.status == Video.Status.COMPLETED


def test_a_run_cancelled_in_the_engine_unnoticed_ends_its_job_cancelled(
    live_server, engine_losing_endings, fake_clips_api, fake_inngest, user
):
    answer = threading.Event()
    fake_clips_api.queue("identify", Reply(hold=answer))
    dev = DevExecutor(executor=engine_losing_endings, workers=1)
    try:
        video = video_submit(owner=user, youtube_url=URL)
        [active] = dev.dispatch(sent(video))
        deadline = time.monotonic() + 15
        while fake_clips_api.count("identify") < 1:
            assert time.monotonic() < deadline
            time.sleep(0.02)
        active.cancel.set()  # cancelled from the Inngest dashboard
        answer.set()
        while dev.active:
            time.sleep(0.02)
    finally:
        dev.close()
    video.refresh_from_db()
    assert video.status == Video.Status.PROCESSING  # nothing told Korai
    fake_inngest.runs[active.run_id] = "Cancelled"
    without_progress_for(video, 11)

    report = reconcile(engine_losing_endings)

    assert report["settled"] == [
        f"video {video.pk}: its run {active.run_id} was cancelled in Inngest"
    ]
    video.refresh_from_db()
    assert video.status == Video.Status.CANCELLED
    assert not video.clips.exists()
