"""How a job learns that its run ended in Inngest without finishing it (`jobs.endings`): the
`-failed` and `-cancelled` functions, driven over HTTP as Inngest drives them, with the clips
API's local fake."""

import threading
import time

import pytest
from django.db import OperationalError

from jobs import endings
from outbox.models import OutboxEvent
from tests.fakes.clips_api import Reply
from videos.models import IdentifyAnswer, Video
from videos.services import video_rerun, video_submit

URL = "https://www.youtube.com/watch?v=dQw4w9WgXcQ"

pytestmark = pytest.mark.django_db(transaction=True)


def sent(video) -> dict:
    """The video's latest identify event, as the outbox sends it."""
    event = OutboxEvent.objects.filter(job_id=video.pk).order_by("-created_at").first()
    return {"id": event.event_id, "name": event.name, "data": event.data, "ts": 0}


def wait_for(predicate, timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.02)


def cancelled_in_inngest(run_id: str, event: dict) -> dict:
    """What the engine emits when a run is cancelled from its dashboard or REST API."""
    return {
        "name": "inngest/function.cancelled",
        "data": {"function_id": "korai-app-identify-clips", "run_id": run_id, "event": event},
    }


def test_a_failure_lands_even_when_the_first_attempt_to_record_it_fails(
    executor, fake_clips_api, user, monkeypatch
):
    fake_clips_api.queue("identify", Reply(status=404, body={"detail": "no such video"}))
    video = video_submit(owner=user, youtube_url=URL)
    blips = []
    job_fail = endings.job_fail

    def job_fail_after_a_database_blip(**kwargs):
        if not blips:
            blips.append(kwargs["job_id"])
            raise OperationalError("server closed the connection unexpectedly")
        return job_fail(**kwargs)

    monkeypatch.setattr(endings, "job_fail", job_fail_after_a_database_blip)

    run = executor.run("identify-clips", sent(video))

    assert run.status == "failed"
    assert blips == [str(video.pk)]  # the first attempt to record it failed
    video.refresh_from_db()
    assert video.status == Video.Status.FAILED
    assert "no such video" in video.last_error
    assert [line["step"] for line in video.timeline].count("on-failure") == 1


def test_recording_a_failure_twice_changes_nothing(executor, fake_clips_api, user):
    fake_clips_api.queue("identify", Reply(status=404, body={"detail": "no such video"}))
    video = video_submit(owner=user, youtube_url=URL)
    run = executor.run("identify-clips", sent(video))
    video.refresh_from_db()
    failed_at, timeline = video.finished_at, video.timeline

    again = executor.run(
        "identify-clips-failed",
        {
            "name": "inngest/function.failed",
            "data": {
                "function_id": "korai-app-identify-clips",
                "run_id": run.run_id,
                "event": sent(video),
                "error": {"name": "Error", "message": "a redelivered report"},
            },
        },
    )

    assert again.status == "completed"
    video.refresh_from_db()
    assert (video.status, video.finished_at, video.timeline) == ("failed", failed_at, timeline)


def test_a_run_cancelled_in_inngest_ends_its_video_cancelled_and_writes_nothing(
    dev, executor, fake_clips_api, user
):
    answer = threading.Event()
    fake_clips_api.queue("identify", Reply(hold=answer))
    video = video_submit(owner=user, youtube_url=URL)
    assert dev.poll_once() == 1
    wait_for(lambda: fake_clips_api.count("identify") == 1)  # in call-identify-clips-api
    [active] = dev.active

    # Cancelled from the Inngest dashboard: the engine stops driving the run and emits
    # inngest/function.cancelled; no failure handler runs.
    active.cancel.set()
    recorded = executor.run(
        "identify-clips-cancelled", cancelled_in_inngest(active.run_id, active.event)
    )
    assert recorded.status == "completed"
    video.refresh_from_db()
    assert video.status == Video.Status.CANCELLED
    assert video.timeline[-1]["step"] == "cancelled-in-inngest"

    answer.set()  # the call in flight answers after the cancel
    wait_for(lambda: not dev.active)
    video.refresh_from_db()
    assert video.status == Video.Status.CANCELLED
    assert not video.clips.exists() and video.total_clips == 0
    assert not IdentifyAnswer.objects.filter(video=video).exists()


def test_news_of_an_earlier_run_leaves_the_rerun_alone(executor, fake_clips_api, user):
    fake_clips_api.queue("identify", Reply(status=404, body={"detail": "no such video"}))
    video = video_submit(owner=user, youtube_url=URL)
    first_event = sent(video)
    first = executor.run("identify-clips", first_event)
    video_rerun(video=Video.objects.get(pk=video.pk))  # pending, waiting for its new run

    stale = executor.run(
        "identify-clips-cancelled", cancelled_in_inngest(first.run_id, first_event)
    )

    assert stale.status == "completed"
    video.refresh_from_db()
    assert video.status == Video.Status.PENDING
