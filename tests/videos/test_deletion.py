"""Deleting a video: `DELETE /api/videos/{id}/` removes its rows at once, and the
`delete-video-objects` function (driven over HTTP as Inngest drives it) removes its stored
objects from a real S3 HTTP API (moto server), retried while storage is down."""

import threading
import time

import pytest
from django.db import OperationalError
from psycopg.errors import DeadlockDetected
from rest_framework.test import APIClient

from clips.models import Clip
from devtools.executor import InngestExecutor
from exports import rendering
from exports.models import Export, ExportedClip
from exports.rendering import export_copy_rendered, export_render
from outbox.models import OutboxEvent
from tests.factories import ClipFactory, ExportedClipFactory, ExportFactory, VideoFactory
from videos import deletion
from videos.models import Video, VideoDeletion

# Read by the fake_clips_api fixture: a render call writes each output to the local S3 server
# before it answers, which on a loaded machine can outlast the default 0.5 s (then retried).
CLIPS_API_READ_TIMEOUT_SECONDS = 10.0


def client_for(user) -> APIClient:
    client = APIClient()
    client.force_authenticate(user)
    return client


def as_sent(event: OutboxEvent) -> dict:
    return {"id": event.event_id, "name": event.name, "data": event.data}


def deleted_event(video_id) -> dict:
    return as_sent(OutboxEvent.objects.get(name="video/deleted", data__videoId=str(video_id)))


def export_of(video, ranges):
    return ExportFactory(
        video=video,
        selected_ranges=[{"start": s, "end": e, "clip_id": None} for s, e in ranges],
        status=Export.Status.PROCESSING,  # as its run's create step leaves it
        inngest_run_id="run-1",
    )


def render(export):
    """The render step, then the copy step, as one run of `process-clips` does them."""
    rendered = export_render(
        export_id=str(export.pk), run_id="run-1", step="call-process-clips-api", attempt=0
    )
    export_copy_rendered(
        export_id=str(export.pk),
        run_id="run-1",
        outputs=rendered["outputs"],
        tried=0,
        step="copy-rendered-clips",
        attempt=0,
    )


@pytest.fixture
def video(user):
    video = VideoFactory(owner=user, status=Video.Status.COMPLETED)
    ClipFactory.create_batch(3, video=video)
    return video


# --- the API -----------------------------------------------------------------------------------


@pytest.mark.django_db
def test_delete_removes_the_video_and_everything_under_it(user, video):
    exports = [ExportFactory(video=video) for _ in range(2)]
    for export in exports:
        ExportedClipFactory(export=export)
    kept = VideoFactory(owner=user)  # another video of the same user

    response = client_for(user).delete(f"/api/videos/{video.pk}/")

    assert response.status_code == 204
    assert not Video.objects.filter(pk=video.pk).exists()
    assert not Clip.objects.filter(video_id=video.pk).exists()
    assert not Export.objects.filter(video_id=video.pk).exists()
    assert not ExportedClip.objects.filter(video_id=video.pk).exists()
    assert Video.objects.filter(pk=kept.pk).exists()
    prefixes = [f"youtube-videos/{video.pk}/", *sorted(f"exports/{e.pk}/" for e in exports)]
    deletion = VideoDeletion.objects.get(pk=video.pk)
    assert (deletion.pending, deletion.owner, deletion.youtube_id) == (True, user, video.youtube_id)
    assert [deletion.prefixes[0], *sorted(deletion.prefixes[1:])] == prefixes
    event = OutboxEvent.objects.get(name="video/deleted")
    assert event.event_id == f"video/deleted:{video.pk}:1"
    assert event.data == {
        "videoId": str(video.pk),
        "prefixes": deletion.prefixes,
        "runEventId": video.run_event_id,
    }
    assert (event.job_type, event.job_id) == (None, None)  # outlives the video


@pytest.mark.django_db
def test_another_users_video_is_not_found_and_stays(other_user, video):
    response = client_for(other_user).delete(f"/api/videos/{video.pk}/")

    assert response.status_code == 404
    assert Video.objects.filter(pk=video.pk).exists()
    assert not VideoDeletion.objects.exists()
    assert client_for(other_user).delete("/api/videos/not-a-uuid/").status_code == 404


@pytest.mark.django_db
def test_delete_makes_the_same_queries_for_1_and_10_exports(
    user, django_assert_max_num_queries, django_assert_num_queries
):
    def queries_to_delete(exports: int) -> int:
        video = VideoFactory(owner=user, status=Video.Status.COMPLETED)
        ClipFactory.create_batch(exports, video=video)
        for _ in range(exports):
            ExportedClipFactory.create_batch(2, export=ExportFactory(video=video))
        with django_assert_max_num_queries(100) as captured:
            assert client_for(user).delete(f"/api/videos/{video.pk}/").status_code == 204
        return len(captured.captured_queries)

    assert queries_to_delete(1) == queries_to_delete(10)


# --- the clean-up, end to end over HTTP ---------------------------------------------------------


def test_deleting_a_video_removes_all_its_objects(executor, fake_clips_api, s3, user, video):
    exports = [export_of(video, [(0, 30), (60, 90)]), export_of(video, [(100, 130)])]
    for export in exports:
        render(export)
    s3.put(video.s3_key, b"the source video")
    other = VideoFactory(owner=user, status=Video.Status.COMPLETED)
    other_export = export_of(other, [(0, 30)])
    render(other_export)
    theirs = s3.keys(other.storage_prefix) + s3.keys(other_export.storage_prefix)
    # The source, the service's clip_0 and clip_1, and the exports' 2 + 1 copies.
    ours = [
        key
        for prefix in (video.storage_prefix, *(e.storage_prefix for e in exports))
        for key in s3.keys(prefix)
    ]
    assert len(ours) == 6 and len(theirs) == 2

    assert client_for(user).delete(f"/api/videos/{video.pk}/").status_code == 204
    run = executor.run("delete-video-objects", deleted_event(video.pk))

    assert run.status == "completed", run.error
    assert len(run.sleeps) == 1  # then the second sweep
    assert s3.keys() == sorted(theirs)
    deletion = VideoDeletion.objects.get(pk=video.pk)
    assert not deletion.pending and deletion.last_error == ""
    assert deletion.objects_deleted == run.output["deletedObjects"] == 6


def test_with_storage_down_the_delete_answers_at_once_and_the_objects_go_when_it_returns(
    live_server, fake_clips_api, s3, user, video, settings
):
    export = export_of(video, [(0, 30)])
    render(export)
    # A frozen store: any storage call would wait its whole read timeout.
    settings.AWS_S3_READ_TIMEOUT_SECONDS = 5.0
    s3.hang()

    began = time.monotonic()
    response = client_for(user).delete(f"/api/videos/{video.pk}/")
    answered_in = time.monotonic() - began

    assert response.status_code == 204
    assert answered_in < 2.5  # it never waited on storage
    assert not Video.objects.filter(pk=video.pk).exists()  # deleted, and stays deleted
    s3.down()  # now refusing connections: each attempt below fails at once

    # Inngest retries the clean-up with back-off; storage is back before the third attempt.
    retries = []

    def storage_back_after_two_failures(attempt: int) -> None:
        retries.append(VideoDeletion.objects.get(pk=video.pk).last_error)
        if attempt == 2:
            s3.up()

    executor = InngestExecutor(
        base_url=live_server.url, max_attempts=5, before_retry=storage_back_after_two_failures
    )
    run = executor.run("delete-video-objects", deleted_event(video.pk))

    assert run.status == "completed", run.error
    assert run.step_attempts["delete-objects"] == 3
    assert all("object storage" in error for error in retries)  # pending, with the reason
    assert s3.keys(video.storage_prefix) == [] and s3.keys(export.storage_prefix) == []
    deletion = VideoDeletion.objects.get(pk=video.pk)
    assert (deletion.pending, deletion.attempts, deletion.last_error) == (False, 4, "")


def test_a_clean_up_that_gave_up_stays_pending_in_the_admin_until_run_again(
    live_server, fake_clips_api, s3, user, video, admin_client
):
    export = export_of(video, [(0, 30)])
    render(export)
    s3.down()
    client_for(user).delete(f"/api/videos/{video.pk}/")
    executor = InngestExecutor(base_url=live_server.url, max_attempts=2)

    gave_up = executor.run("delete-video-objects", deleted_event(video.pk))

    assert gave_up.status == "failed"
    deletion = VideoDeletion.objects.get(pk=video.pk)
    assert deletion.pending and deletion.last_error.startswith("gave up: ")
    page = admin_client.get("/admin/videos/videodeletion/?cleanup=pending")
    assert page.status_code == 200
    assert str(video.pk) in page.content.decode() and "pending" in page.content.decode()

    s3.up()
    admin_client.post(
        "/admin/videos/videodeletion/",
        {"action": "clean_up_again", "_selected_action": [str(video.pk)]},
    )
    again = OutboxEvent.objects.get(event_id=f"video/deleted:{video.pk}:2")
    run = executor.run("delete-video-objects", as_sent(again))

    assert run.status == "completed"
    assert s3.keys(export.storage_prefix) == []
    assert not VideoDeletion.objects.get(pk=video.pk).pending
    assert (
        str(video.pk)
        not in admin_client.get("/admin/videos/videodeletion/?cleanup=pending").content.decode()
    )


def test_an_event_for_a_delete_never_recorded_deletes_nothing(executor, fake_clips_api, s3):
    s3.put("exports/x/clip_0.mp4", b"kept")
    forged = {
        "name": "video/deleted",
        "data": {"videoId": "00000000-0000-0000-0000-000000000001", "prefixes": ["exports/"]},
    }

    run = executor.run("delete-video-objects", forged)

    assert run.status == "failed" and run.requests == 1
    assert s3.keys() == ["exports/x/clip_0.mp4"]


def test_a_render_in_flight_when_its_video_is_deleted_writes_nothing_that_stays(
    live_server, fake_clips_api, s3, user, video, monkeypatch
):
    export = export_of(video, [(0, 30), (60, 90)])
    deleted, first_sweep_done = threading.Event(), threading.Event()
    real_call = rendering.clips_api.process_clips

    def deleted_while_rendering(**kwargs):
        client_for(user).delete(f"/api/videos/{video.pk}/")
        deleted.set()
        first_sweep_done.wait(30)  # the render ends after the clean-up's first sweep
        return real_call(**kwargs)

    monkeypatch.setattr(rendering.clips_api, "process_clips", deleted_while_rendering)
    runs = {}
    event = {
        "name": "clips/process",
        "data": {"exportId": str(export.pk), "videoId": str(video.pk), "userId": str(user.pk)},
    }
    renderer = threading.Thread(
        target=lambda: runs.update(
            render=InngestExecutor(base_url=live_server.url).run("process-clips", event)
        )
    )
    renderer.start()
    assert deleted.wait(30)

    def render_finishes_meanwhile(name):
        first_sweep_done.set()
        renderer.join(30)

    cleanup = InngestExecutor(base_url=live_server.url, on_sleep=render_finishes_meanwhile).run(
        "delete-video-objects", deleted_event(video.pk)
    )

    render_run = runs["render"]
    assert render_run.status == "failed"
    assert "was deleted while its clips were rendered" in render_run.error["message"]
    assert fake_clips_api.count("process") == 1  # not retried
    assert not ExportedClip.objects.exists()
    assert cleanup.status == "completed"
    # What the service wrote after the first sweep (its two outputs) went with the second; the
    # render found its export gone before copying them, so no copy was made.
    assert cleanup.output["deletedObjects"] == 2
    assert s3.keys(video.storage_prefix) == [] and s3.keys(export.storage_prefix) == []


@pytest.mark.django_db(transaction=True)
def test_a_delete_chosen_as_a_deadlocks_victim_is_tried_again(user, monkeypatch):
    """PostgreSQL fails one side of a deadlock (the delete's cascade against a render giving
    its lease back with its clips, seen by the fault-injection suite): the user's DELETE still
    succeeds."""
    video = VideoFactory(owner=user, status=Video.Status.COMPLETED)
    once = deletion._video_delete_once
    victims = []

    def deadlocked_once(**kwargs):
        if not victims:
            victims.append(kwargs["video"].pk)
            try:
                raise DeadlockDetected("deadlock detected")
            except DeadlockDetected as cause:
                raise OperationalError("deadlock detected") from cause
        return once(**kwargs)

    monkeypatch.setattr(deletion, "_video_delete_once", deadlocked_once)

    response = client_for(user).delete(f"/api/videos/{video.pk}/")

    assert response.status_code == 204
    assert victims == [video.pk]
    assert not Video.objects.filter(pk=video.pk).exists()
    assert VideoDeletion.objects.filter(pk=video.pk).exists()


@pytest.mark.django_db(transaction=True)
def test_a_step_writing_clips_and_a_delete_of_its_video_queue_instead_of_deadlocking(
    user, video, monkeypatch
):
    """The copy step keeps its clips (counting them on the video) while the user deletes the
    video. Both take the video's row first, so the delete waits for the step's transaction
    instead of PostgreSQL failing one of them. No second try hides a deadlock here."""
    from django.db import connection, transaction

    monkeypatch.setattr(deletion, "DEADLOCK_TRIES", 1)
    export = export_of(video, [(0, 10)])
    locked, delete_started = threading.Event(), threading.Event()
    problems = []

    def keep_a_clip() -> None:
        try:
            with transaction.atomic():
                held = rendering._locked_for_clips(str(export.pk))
                locked.set()
                delete_started.wait(5)
                time.sleep(0.5)  # the delete is now waiting on a lock, or holding one
                rendering._store(held, held.selected_ranges[0], s3_key=held.clip_key(0), error="")
        except Exception as err:  # asserted below
            problems.append(err)
        finally:
            connection.close()

    step = threading.Thread(target=keep_a_clip)
    step.start()
    assert locked.wait(5)
    delete_started.set()
    response = client_for(user).delete(f"/api/videos/{video.pk}/")
    step.join(10)

    assert problems == []
    assert response.status_code == 204
    assert not Video.objects.filter(pk=video.pk).exists()
    assert not ExportedClip.objects.filter(export_id=export.pk).exists()
