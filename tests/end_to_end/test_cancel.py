"""Cancelling a job, end to end over HTTP: the REST API on the live server, the outbox's cancel
event taken by the development executor (which cancels a run as Inngest does: its next request
is never made), the functions driven through /api/inngest, the clips API fake holding its answer
until after the cancel, and object storage in a local S3 server."""

import re
import threading
import time

import pytest
import requests
from django.core.management import call_command
from rest_framework.authtoken.models import Token

from devtools.dev_executor import DevExecutor
from devtools.executor import InngestExecutor
from exports.models import Export, ExportedClip, RenderLease
from exports.services import EXPORT_JOB
from jobs.reruns import jobs_rerun
from outbox.delivery import event_payload
from outbox.models import OutboxEvent
from tests.factories import ClipFactory, ExportFactory, UserFactory, VideoFactory
from tests.fakes.clips_api import Reply, render_bytes
from videos.models import IdentifyAnswer, Video
from videos.services import VIDEO_JOB, video_id_for_event, video_rerun

URL = "https://www.youtube.com/watch?v=dQw4w9WgXcQ"
# The held calls answer only when the test lets them.
CLIPS_API_READ_TIMEOUT_SECONDS = 20.0

pytestmark = pytest.mark.django_db(transaction=True)


def wait_for(predicate, timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.02)


@pytest.fixture
def api(live_server):
    user = UserFactory(username="canceller")
    call_command("drf_create_token", user.username)
    session = requests.Session()
    session.headers["Authorization"] = f"Token {Token.objects.get(user=user).key}"
    session.base = f"{live_server.url}/api"
    session.user = user
    yield session
    session.close()


def job_runs(dev) -> list:
    """The runs of the job functions themselves, without the `-failed`/`-cancelled` runs that
    their ends start."""
    return [run for run in dev.finished if not run.function_id.endswith(("-failed", "-cancelled"))]


def settle(dev: DevExecutor) -> None:
    wait_for(lambda: not dev.active)


def submit(api) -> str:
    response = api.post(f"{api.base}/videos/", json={"youtube_url": URL}, timeout=10)
    assert response.status_code == 202, response.text
    return response.json()["id"]


def create_export(api, video, clip) -> str:
    response = api.post(
        f"{api.base}/videos/{video.pk}/exports/",
        json={"clip_ids": [str(clip.pk)], "aspect_ratio": "9:16"},
        timeout=10,
    )
    assert response.status_code == 202, response.text
    return response.json()["id"]


def metric(live_server, name: str, **labels) -> float:
    text = requests.get(f"{live_server.url}/metrics", timeout=10).text
    wanted = ",".join(f'{key}="{value}"' for key, value in sorted(labels.items()))
    for line in text.splitlines():
        found = re.fullmatch(rf"{name}\{{(.*)\}} (\S+)", line)
        if found and ",".join(sorted(found[1].split(","))) == wanted:
            return float(found[2])
    return 0.0


def test_a_cancel_during_the_identify_call_keeps_nothing_of_its_late_answer(
    api, dev, fake_clips_api, live_server
):
    answer = threading.Event()
    fake_clips_api.queue("identify", Reply(hold=answer))
    video_id = submit(api)
    assert dev.poll_once() == 1  # the identify event: its run starts
    wait_for(lambda: fake_clips_api.count("identify") == 1)  # in call-identify-clips-api
    cancellations = metric(live_server, "korai_job_cancellations_total", kind="video")

    cancelled = api.post(f"{api.base}/videos/{video_id}/cancel/", timeout=10)
    assert cancelled.status_code == 202
    assert cancelled.json()["processing_status"] == "cancelled"
    assert dev.poll_once() == 1  # the cancel event reaches the executor
    answer.set()  # the clips API answers after the cancel
    settle(dev)

    [run] = job_runs(dev)
    assert run.status == "cancelled"
    assert fake_clips_api.count("identify") == 1  # not retried
    video = Video.objects.get(pk=video_id)
    assert video.status == Video.Status.CANCELLED
    assert not video.clips.exists() and video.total_clips == 0
    assert not IdentifyAnswer.objects.filter(video=video).exists()
    assert [line["step"] for line in video.timeline if "cancelled" in line["detail"]] == ["cancel"]
    status = api.get(f"{api.base}/videos/{video_id}/status/", timeout=10).json()
    assert (status["processing_status"], status["total_clips"]) == ("cancelled", 0)
    event = OutboxEvent.objects.get(name="video/identify.cancelled")
    assert event.data == {"videoId": video_id, "runEventId": video.run_event_id}
    assert metric(live_server, "korai_job_cancellations_total", kind="video") == cancellations + 1


def test_a_cancelled_video_run_again_completes_and_the_metrics_saw_each_move(
    api, dev, fake_clips_api, live_server
):
    answer = threading.Event()
    fake_clips_api.queue("identify", Reply(hold=answer))
    video_id = submit(api)
    dev.poll_once()
    wait_for(lambda: fake_clips_api.count("identify") == 1)
    assert api.post(f"{api.base}/videos/{video_id}/cancel/", timeout=10).status_code == 202
    dev.poll_once()
    answer.set()
    settle(dev)
    reruns = metric(live_server, "korai_job_reruns_total", kind="video")
    durations = metric(
        live_server,
        "korai_job_duration_seconds_count",
        function="identify-clips",
        status="completed",
    )
    completions = metric(
        live_server,
        "korai_job_status_changes_total",
        kind="video",
        old="processing",
        new="completed",
    )

    # What the admin's "Run again" does for this video.
    report = jobs_rerun(
        candidates=[(VIDEO_JOB, Video.objects.filter(pk=video_id))], failed=True, cancelled=True
    )
    assert report.of("video") == [video_id]
    assert Video.objects.get(pk=video_id).status == Video.Status.PENDING
    assert dev.poll_once() == 1
    settle(dev)

    assert [run.status for run in job_runs(dev)] == ["cancelled", "completed"]
    video = Video.objects.get(pk=video_id)
    assert (video.status, video.total_clips, video.clips.count()) == ("completed", 3, 3)
    assert video.attempts == 2
    assert metric(live_server, "korai_job_reruns_total", kind="video") == reruns + 1
    assert (
        metric(
            live_server,
            "korai_job_status_changes_total",
            kind="video",
            old="processing",
            new="completed",
        )
        == completions + 1
    )
    assert metric(live_server, "korai_jobs", kind="video", status="completed") >= 1
    assert (
        metric(
            live_server,
            "korai_job_duration_seconds_count",
            function="identify-clips",
            status="completed",
        )
        == durations + 1
    )


def test_a_cancel_during_a_render_keeps_earlier_clips_and_nothing_of_that_call(
    api, dev, fake_clips_api, s3
):
    video = VideoFactory(owner=api.user, status=Video.Status.COMPLETED)
    first, second = (
        ClipFactory(video=video, start=0, end=30),
        ClipFactory(video=video, start=60, end=90),
    )
    # The first run renders the first clip only: the export ends partial.
    fake_clips_api.omit(60, 90, times=1)
    created = api.post(
        f"{api.base}/videos/{video.pk}/exports/",
        json={"clip_ids": [str(first.pk), str(second.pk)], "aspect_ratio": "9:16"},
        timeout=10,
    )
    assert created.status_code == 202, created.text
    export_id = created.json()["id"]
    dev.poll_once()
    settle(dev)
    export = Export.objects.get(pk=export_id)
    assert export.status == Export.Status.PARTIAL
    kept = export.exported_clips.get(start=0)
    assert s3.keys(export.storage_prefix) == [kept.s3_key]

    # Run again; cancel while its render call (the missing clip) is in flight.
    rendered = threading.Event()
    fake_clips_api.queue("process", Reply(hold=rendered))
    jobs_rerun(
        candidates=[(EXPORT_JOB, Export.objects.filter(pk=export_id))], failed=True, cancelled=True
    )
    dev.poll_once()
    wait_for(lambda: fake_clips_api.count("process") == 2)
    cancelled = api.post(f"{api.base}/exports/{export_id}/cancel/", timeout=10)
    assert cancelled.status_code == 202
    assert cancelled.json()["status"] == "cancelled"
    dev.poll_once()
    rendered.set()  # the render finishes after the cancel
    settle(dev)

    assert [run.status for run in job_runs(dev)] == ["completed", "cancelled"]
    export.refresh_from_db()
    assert export.status == Export.Status.CANCELLED
    # The clip rendered before the cancel stays, downloadable; the late render left no row
    # and no copy among the export's clips (its outputs in the video's folder are the service's
    # own, overwritten by the next render and removed with the video).
    clips = ExportedClip.objects.filter(export=export).order_by("start")
    missing_error = clips.get(start=60).error  # the first run's, untouched by the late render
    assert [(c.start, c.s3_key) for c in clips] == [(0.0, kept.s3_key), (60.0, "")]
    assert "no clip for 60-90s" in missing_error
    assert s3.keys(export.storage_prefix) == [kept.s3_key]
    body = api.get(f"{api.base}/exports/{export_id}/", timeout=10).json()
    assert [bool(clip["download_url"]) for clip in body["exported_clips"]] == [True, False]


def test_a_second_export_waits_for_the_cancelled_renders_call_and_each_keeps_its_own_clips(
    api, fake_clips_api, live_server, s3
):
    """Inngest frees a cancelled run's concurrency slot while its render call still runs: the
    video's render lease keeps the next export of the video from calling the API meanwhile."""
    video = VideoFactory(owner=api.user, status=Video.Status.COMPLETED)
    clips = [ClipFactory(video=video, start=0, end=30), ClipFactory(video=video, start=60, end=90)]
    answer = threading.Event()
    fake_clips_api.queue("process", Reply(hold=answer))  # the first export's call
    waits = []

    def before_retry(attempt):
        # Only the second export's run retries: each time, the first call is still out.
        waits.append((fake_clips_api.count("process"), fake_clips_api.calls[-1].answered))
        if attempt == 2:
            answer.set()  # the first call ends; its cancelled run keeps nothing of it
            # The engine gave the cancelled run up at once; its step frees the video once
            # its call has ended.
            wait_for(lambda: not RenderLease.objects.exists())

    dev = DevExecutor(
        executor=InngestExecutor(base_url=live_server.url, before_retry=before_retry), workers=2
    )
    try:
        first = create_export(api, video, clips[0])
        assert dev.poll_once() == 1
        wait_for(lambda: fake_clips_api.count("process") == 1)
        cancelled = api.post(f"{api.base}/exports/{first}/cancel/", timeout=10)
        assert cancelled.status_code == 202
        second = create_export(api, video, clips[1])
        assert dev.poll_once() == 2  # the cancel and the second export's event
        settle(dev)
        assert [run.status for run in job_runs(dev)] == ["cancelled", "completed"]
        assert waits == [(1, 0.0), (1, 0.0)]  # waited twice, calling nothing, while it ran
        one, two = (call for call in fake_clips_api.calls if call.endpoint == "process")
        assert one.answered <= two.started  # never at once

        # The cancelled export, run again, renders its own clip once the video is free.
        jobs_rerun(
            candidates=[(EXPORT_JOB, Export.objects.filter(pk=first))], failed=True, cancelled=True
        )
        assert dev.poll_once() == 1
        settle(dev)
    finally:
        dev.close()
        dev.executor.session.close()  # its keep-alive connections hold database sessions

    assert job_runs(dev)[-1].status == "completed"
    # Every render wrote `clip_0` of the video's folder; each export kept its own call's bytes.
    for export_id, (start, end), render in ((second, (60, 90), 2), (first, (0, 30), 3)):
        export = Export.objects.get(pk=export_id)
        assert export.status == Export.Status.COMPLETED
        body = api.get(f"{api.base}/exports/{export_id}/", timeout=10).json()
        [clip] = body["exported_clips"]
        download = requests.get(clip["download_url"], timeout=10)
        assert download.content == render_bytes(video.s3_key, start, end, render)
    waiting = Export.objects.get(pk=second)
    assert waiting.last_error == ""  # waiting is not a failure
    notes = [line["detail"] for line in waiting.timeline]
    assert notes.count(f"waiting for export {first} of the same video") == 2
    assert not RenderLease.objects.exists()


def test_cancelling_a_final_job_answers_409_and_changes_nothing(api):
    completed = VideoFactory(owner=api.user, status=Video.Status.COMPLETED)
    someone_elses = VideoFactory(status=Video.Status.PROCESSING)
    events = OutboxEvent.objects.count()

    refused = api.post(f"{api.base}/videos/{completed.pk}/cancel/", timeout=10)
    assert refused.status_code == 409
    assert refused.json()["error"]["code"] == "video_final"
    assert "completed" in refused.json()["error"]["message"]
    assert api.post(f"{api.base}/videos/{someone_elses.pk}/cancel/", timeout=10).status_code == 404

    pending = submit(api)
    assert api.post(f"{api.base}/videos/{pending}/cancel/", timeout=10).status_code == 202
    again = api.post(f"{api.base}/videos/{pending}/cancel/", timeout=10)
    assert (again.status_code, again.json()["error"]["code"]) == (409, "video_final")
    assert OutboxEvent.objects.count() == events + 2  # the submission and one cancel
    finished = ExportFactory(owner=api.user, video=completed, status=Export.Status.PARTIAL)
    refused = api.post(f"{api.base}/exports/{finished.pk}/cancel/", timeout=10)
    assert (refused.status_code, refused.json()["error"]["code"]) == (409, "export_final")
    finished.refresh_from_db()
    assert finished.status == Export.Status.PARTIAL
    completed.refresh_from_db()
    someone_elses.refresh_from_db()
    assert (completed.status, someone_elses.status) == ("completed", "processing")


def test_the_late_event_of_a_job_cancelled_before_its_run_started_does_nothing(
    api, fake_clips_api, live_server
):
    video_id = submit(api)  # its event is not delivered (the event API is down)
    assert api.post(f"{api.base}/videos/{video_id}/cancel/", timeout=10).status_code == 202
    timeline = Video.objects.get(pk=video_id).timeline
    event = OutboxEvent.objects.get(name="video/identify.clips", job_id=video_id)

    # Inngest gets the event later and starts a run (its cancel came before the run existed).
    run = InngestExecutor(base_url=live_server.url).run(
        "identify-clips", {"id": event.event_id, "name": event.name, "data": event.data}
    )

    assert run.status == "completed"  # not a failure to look into
    assert fake_clips_api.count("identify") == 0
    video = Video.objects.get(pk=video_id)
    assert (video.status, video.attempts, video.timeline) == ("cancelled", 0, timeline)


def test_a_late_cancel_event_never_stops_the_next_run_of_the_same_video(api, dev, fake_clips_api):
    first_answer = threading.Event()
    fake_clips_api.queue("identify", Reply(hold=first_answer))
    video_id = submit(api)
    assert dev.poll_once() == 1
    wait_for(lambda: fake_clips_api.count("identify") == 1)
    assert api.post(f"{api.base}/videos/{video_id}/cancel/", timeout=10).status_code == 202
    assert dev.poll_once() == 1  # the cancel stops the first run
    first_answer.set()
    settle(dev)
    cancel = OutboxEvent.objects.get(name="video/identify.cancelled")

    video_rerun(video=Video.objects.get(pk=video_id))
    second_answer = threading.Event()
    fake_clips_api.queue("identify", Reply(hold=second_answer))
    assert dev.poll_once() == 1  # the rerun's event starts a second run
    wait_for(lambda: fake_clips_api.count("identify") == 2)
    # Inngest receives the old cancel again (a resend of a send that timed out after Inngest
    # had accepted it, a duplicate) and matches it against every run in progress.
    dev.dispatch(event_payload(cancel))
    second_answer.set()
    settle(dev)

    assert len([run for run in job_runs(dev) if run.status == "cancelled"]) == 1
    video = Video.objects.get(pk=video_id)
    assert video.status == Video.Status.COMPLETED, video.timeline
    assert video.clips.count() == video.total_clips > 0


def test_a_video_made_from_the_original_apps_event_can_be_cancelled(api, dev, fake_clips_api):
    answer = threading.Event()
    fake_clips_api.queue("identify", Reply(hold=answer))
    # The original Next.js app's event: no videoId, the run creates the video.
    seed_event = {
        "id": "01JSEEDSHAPEDEVENT",
        "name": "video/identify.clips",
        "data": {"youtubeUrl": URL, "prompt": "funny bits", "userId": str(api.user.pk)},
    }
    [active] = dev.dispatch(seed_event)
    wait_for(lambda: fake_clips_api.count("identify") == 1)
    video_id = str(video_id_for_event(seed_event["id"]))

    assert api.post(f"{api.base}/videos/{video_id}/cancel/", timeout=10).status_code == 202
    assert dev.poll_once() == 1  # the cancel event reaches the executor
    assert active.cancel.is_set()  # its rule matched the run, whose event has no videoId
    answer.set()
    settle(dev)

    assert [run.status for run in job_runs(dev)] == ["cancelled"]
    video = Video.objects.get(pk=video_id)
    assert video.status == Video.Status.CANCELLED
    assert not video.clips.exists()
    assert not IdentifyAnswer.objects.filter(video=video).exists()
