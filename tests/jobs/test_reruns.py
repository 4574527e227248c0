"""Running jobs again (`jobs.reruns`): `jobs_rerun` runs exactly the jobs it is given; a rerun
keeps the job's old run id until its own run starts, and a late failure of the run it replaced
must not turn it back to `failed` (the failure names the superseded event)."""

import threading
import time
from datetime import timedelta
from io import StringIO

import pytest
from django.contrib.messages import get_messages
from django.core.management import call_command
from django.db import connections
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from devtools.executor import Run
from exports.models import Export
from exports.services import EXPORT_JOB, export_create, export_rerun
from jobs.records import job_start
from jobs.reruns import jobs_rerun
from outbox.models import OutboxEvent
from tests.factories import ExportFactory, VideoFactory
from tests.fakes.clips_api import Reply
from videos import services as video_services
from videos.models import Video
from videos.services import VIDEO_JOB, video_rerun, video_submit


def as_sent(event: OutboxEvent) -> dict:
    return {"id": event.event_id, "name": event.name, "data": event.data}


def old_run_failed(executor, fn_id: str, event: OutboxEvent, *, run_id: str) -> None:
    """Deliver `inngest/function.failed` for run `run_id` of `event`, as Inngest does."""
    error = {"name": "Error", "message": "the old run timed out"}
    executor.fail(fn_id, as_sent(event), Run(run_id=run_id, status="failed", error=error))


def test_late_failure_of_a_replaced_video_run_leaves_the_rerun_pending(
    executor, fake_clips_api, fake_inngest, user
):
    video = video_submit(owner=user, youtube_url="https://www.youtube.com/watch?v=dQw4w9WgXcQ")
    first = OutboxEvent.objects.get(job_id=video.pk)
    job_start(
        model=Video, job_id=str(video.id), run_id="run-1", step="create-video-record", attempt=0
    )  # then it hung: stuck
    video_rerun(video=video)
    second = OutboxEvent.objects.exclude(pk=first.pk).get(job_id=video.pk)

    old_run_failed(executor, "identify-clips", first, run_id="run-1")

    video.refresh_from_db()
    assert (video.status, video.last_error) == (Video.Status.PENDING, "")

    # The rerun's own failure still counts.
    fake_clips_api.queue("identify", Reply(status=422, body={"detail": "video is private"}))
    run = executor.run("identify-clips", as_sent(second))

    assert run.status == "failed"
    video.refresh_from_db()
    assert video.status == Video.Status.FAILED
    assert "video is private" in video.last_error


def test_late_failure_of_a_replaced_export_run_leaves_the_rerun_pending(
    executor, fake_clips_api, fake_inngest, user
):
    video = VideoFactory(owner=user, status=Video.Status.COMPLETED)
    export = export_create(
        video=video, owner=user, aspect_ratio="9:16", clips=[{"start": 0, "end": 30}]
    )
    first = OutboxEvent.objects.get(job_id=export.pk)
    job_start(
        model=Export, job_id=str(export.id), run_id="run-1", step="create-export-record", attempt=0
    )  # then it hung: stuck
    export_rerun(export=export)
    second = OutboxEvent.objects.exclude(pk=first.pk).get(job_id=export.pk)

    old_run_failed(executor, "process-clips", first, run_id="run-1")

    export.refresh_from_db()
    assert (export.status, export.last_error) == (Export.Status.PENDING, "")

    fake_clips_api.on_range(0, 30, Reply(status=404, body={"detail": "no source video"}))
    run = executor.run("process-clips", as_sent(second))

    assert run.status == "failed"
    export.refresh_from_db()
    assert export.status == Export.Status.FAILED
    assert "no source video" in export.last_error


@pytest.mark.django_db(transaction=True)
def test_jobs_rerun_by_ids_runs_exactly_the_given_jobs(fake_inngest):
    chosen = VideoFactory(status=Video.Status.FAILED)
    its_export = ExportFactory(video=chosen, status=Export.Status.FAILED)
    other = VideoFactory(status=Video.Status.FAILED)
    other_export = ExportFactory(video=other, status=Export.Status.FAILED)
    finished = VideoFactory(status=Video.Status.COMPLETED)

    # Exactly the given jobs of each kind, nothing else.
    report = jobs_rerun(
        candidates=[(VIDEO_JOB, Video.objects.filter(pk__in=[chosen.pk, finished.pk]))],
        failed=True,
        dry_run=True,
    )
    assert report.ran == {"video": [str(chosen.pk)]}

    report = jobs_rerun(
        candidates=[(EXPORT_JOB, Export.objects.filter(pk=other_export.pk))], failed=True
    )
    assert report.ran == {"export": [str(other_export.pk)]}

    report = jobs_rerun(
        candidates=[
            (VIDEO_JOB, Video.objects.filter(pk=other.pk)),
            (EXPORT_JOB, Export.objects.filter(pk=its_export.pk)),
        ],
        failed=True,
    )
    assert report.ran == {"video": [str(other.pk)], "export": [str(its_export.pk)]}
    assert Video.objects.get(pk=chosen.pk).status == Video.Status.FAILED  # dry run
    assert Export.objects.get(pk=its_export.pk).status == Export.Status.PENDING


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("status", [Video.Status.FAILED, "stuck"])
def test_four_reruns_of_one_job_at_once_start_exactly_one_run(
    fake_inngest, operator, monkeypatch, status
):
    """The admin's button and list action, `resend_events` and `jobs_rerun` itself, at once on
    one failed (or stuck) video: one new event, one run; the others say a rerun is under way."""
    video = VideoFactory(status=Video.Status.PROCESSING if status == "stuck" else status)
    Video.objects.filter(pk=video.pk).update(updated_at=timezone.now() - timedelta(hours=2))
    # The first rerun holds the job's lock a while, so the others have all selected the job
    # before it commits.
    real_event_record = video_services.event_record

    def slow_event_record(**kwargs):
        time.sleep(0.5)
        return real_event_record(**kwargs)

    monkeypatch.setattr(video_services, "event_record", slow_event_record)
    start = threading.Barrier(4)
    said, errors = {}, []

    def admin(name, post):
        client = Client()
        client.force_login(operator)
        start.wait()
        response = post(client)
        said[name] = [str(m) for m in get_messages(response.wsgi_request)]

    def button():
        admin(
            "button",
            lambda client: client.post(
                reverse("admin:videos_video_run_again", args=[video.pk]), follow=True
            ),
        )

    def action():
        admin(
            "action",
            lambda client: client.post(
                reverse("admin:videos_video_changelist"),
                {"action": "rerun", "_selected_action": [str(video.pk)]},
                follow=True,
            ),
        )

    def command():
        out = StringIO()
        start.wait()
        args = ["--failed"] if status != "stuck" else ["--stuck", "30"]
        call_command("resend_events", *args, "--video", str(video.pk), stdout=out)
        said["command"] = out.getvalue().splitlines()

    def service():
        start.wait()
        report = jobs_rerun(
            candidates=[(VIDEO_JOB, Video.objects.filter(pk=video.pk))],
            failed=True,
            stuck_for=timedelta(minutes=30),
        )
        said["service"] = report.skipped or report.of("video")

    def guarded(body):
        try:
            body()
        except Exception as exc:  # reported below: a thread cannot fail the test itself
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [
        threading.Thread(target=guarded, args=(f,)) for f in (button, action, command, service)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    assert errors == []
    [event] = OutboxEvent.objects.filter(job_id=video.pk)
    assert fake_inngest.id_counts() == {event.event_id: 1}
    video.refresh_from_db()
    assert video.status == Video.Status.PENDING
    assert [e["step"] for e in video.timeline].count("run-again") == 1
    refusals = [line for lines in said.values() for line in lines if "already under way" in line]
    assert len(refusals) == 3, said
