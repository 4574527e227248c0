"""The videos' admin (`videos/admin.py`): the list with its badges, errors and filters, a video's
page with its clips, exports and events, the run-again and cancel actions, and pages whose
queries do not grow with their rows."""

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from core.events import IDENTIFY_EVENT
from outbox.models import OutboxEvent
from outbox.services import event_record
from tests.admin_pages import MAKERS, count_queries, field_text, run_action
from tests.factories import (
    ClipFactory,
    ExportedClipFactory,
    ExportFactory,
    OutboxEventFactory,
    UserFactory,
    VideoFactory,
)
from tests.fakes.clips_api import Reply
from videos.models import Video
from videos.services import video_submit

pytestmark = pytest.mark.django_db(transaction=True)


def test_video_changelist_shows_badges_and_error_start(admin_client, jobs):
    response = admin_client.get(reverse("admin:videos_video_changelist"))
    html = response.content.decode()
    assert 'korai-badge--red">failed</span>' in html
    assert 'korai-badge--green">completed</span>' in html
    # The start of the error in the list, the whole text one click away (collapsed).
    assert "<summary>Clips API answered 422: the video is private</summary>" in html
    assert (
        '<div class="korai-error-full">Clips API answered 422: the video is private\n'
        "Traceback line 2</div></details>"
    ) in html
    assert "12m 34s" in html  # duration


def test_a_duration_reads_the_same_in_the_list_and_on_the_page(admin_client):
    video = VideoFactory(status=Video.Status.COMPLETED, duration_seconds=2393.0)
    listing = admin_client.get(reverse("admin:videos_video_changelist")).content.decode()
    assert '<td class="field-duration">39m 53s</td>' in listing
    page = admin_client.get(reverse("admin:videos_video_change", args=[video.pk]))
    assert field_text(page.content.decode(), "duration") == "39m 53s"


def test_a_failed_runs_error_names_its_step_whether_permanent_or_retried_out(
    admin_client, executor, fake_clips_api, fake_inngest, user
):
    fake_inngest.up()
    fake_clips_api.queue("identify", Reply(status=422, body={"detail": "video is private"}))
    refused = video_submit(owner=user, youtube_url="https://youtu.be/aaaaaaaaaaa")
    executor.run("identify-clips", sent(refused))
    fake_clips_api.queue("identify", Reply(status=500, body={"detail": "down"}), times=10)
    down = video_submit(owner=user, youtube_url="https://youtu.be/bbbbbbbbbbb")
    executor.run("identify-clips", sent(down))

    for video, message in ((refused, "answered 422"), (down, "answered 500")):
        url = reverse("admin:videos_video_change", args=[video.pk])
        error = field_text(admin_client.get(url).content.decode(), "error_full")
        assert error.startswith(
            '<pre class="korai-pre">call-identify-clips-api: identify-clips API'
        )
        assert message in error


def sent(video) -> dict:
    """The video's identify event as the outbox sends it (its id names the run's event)."""
    return {"id": video.run_event_id, "name": IDENTIFY_EVENT, "data": {"videoId": str(video.pk)}}


def test_filters_narrow_the_videos(admin_client, jobs):
    url = reverse("admin:videos_video_changelist")
    failed = admin_client.get(url + "?status__exact=failed").context["cl"]
    assert [v.pk for v in failed.result_list] == [jobs["failed"].pk]
    stuck = admin_client.get(url + "?stuck=yes").context["cl"]
    assert [v.pk for v in stuck.result_list] == [jobs["stuck"].pk]
    nobody = admin_client.get(url + "?owner=nobody").context["cl"]
    assert list(nobody.result_list) == []
    by_id = admin_client.get(url, {"q": str(jobs["completed"].pk)}).context["cl"]
    assert [v.pk for v in by_id.result_list] == [jobs["completed"].pk]


def test_video_change_page_shows_the_whole_job(admin_client, jobs, settings):
    settings.INNGEST_DEV = ""
    settings.INNGEST_DASHBOARD_URL = "https://app.inngest.com"
    video = jobs["completed"]
    html = admin_client.get(reverse("admin:videos_video_change", args=[video.pk])).content.decode()
    assert "https://app.inngest.com/env/production/runs/01JRUNCOMPLETED" in html
    assert "save-clips-to-database" in html and "+3m 00s" in html  # timeline with gaps
    assert jobs["clips"][0].title in html  # clips inline
    assert reverse("admin:exports_export_change", args=[jobs["export"].pk]) in html
    assert 'name="_save"' not in html  # read-only
    export_page = admin_client.get(reverse("admin:exports_export_change", args=[jobs["export"].pk]))
    # The export's events are on the export's page.
    assert jobs["lost_event"].event_id in export_page.content.decode()
    assert 'korai-badge--red">delivery failed</span>' in export_page.content.decode()


def test_failed_video_page_shows_the_full_error(admin_client, jobs):
    html = admin_client.get(
        reverse("admin:videos_video_change", args=[jobs["failed"].pk])
    ).content.decode()
    assert "Traceback line 2" in html
    assert 'korai-badge--green">delivered</span>' in html


def test_rerun_videos_runs_failed_and_stuck_again_and_leaves_the_rest(
    admin_client, jobs, fake_inngest
):
    fake_inngest.up()
    failed, stuck, completed = jobs["failed"], jobs["stuck"], jobs["completed"]

    messages = run_action(admin_client, "videos_video", "rerun", [failed, stuck, completed])

    assert messages == [
        "Ran 2 job(s) again. Left 1 alone: running, finished, or stuck with an undelivered "
        "event (resend that instead)."
    ]
    for video in (failed, stuck):
        video.refresh_from_db()
        assert video.status == Video.Status.PENDING
        assert video.last_error == ""
    completed.refresh_from_db()
    assert completed.status == Video.Status.COMPLETED
    # New events with new ids, delivered after the action's commit.
    assert f"video/identify.clips:{failed.pk}:2" in fake_inngest.event_ids()
    assert f"video/identify.clips:{stuck.pk}:1" in fake_inngest.event_ids()


def test_rerun_leaves_a_stuck_video_whose_event_is_undelivered_to_the_resend(
    admin_client, jobs, fake_inngest
):
    fake_inngest.down()
    waiting = VideoFactory(status=Video.Status.PENDING)
    event_record(name="video/identify.clips", data={"videoId": str(waiting.pk)}, job=waiting)
    Video.objects.filter(pk=waiting.pk).update(updated_at=timezone.now() - timedelta(hours=1))

    messages = run_action(admin_client, "videos_video", "rerun", [waiting])

    assert messages[0].startswith("Ran 0 job(s) again. Left 1 alone")
    assert OutboxEvent.objects.filter(job_id=waiting.pk).count() == 1


def test_cancel_cancels_the_active_jobs_and_leaves_the_finished_ones(
    admin_client, jobs, fake_inngest
):
    fake_inngest.up()
    stuck, completed = jobs["stuck"], jobs["completed"]
    pending = VideoFactory(status=Video.Status.PENDING)

    messages = run_action(admin_client, "videos_video", "cancel", [stuck, pending, completed])

    assert messages == ["Cancelled 2 job(s). Left 1 alone: already finished or cancelled."]
    for video in (stuck, pending):
        video.refresh_from_db()
        assert video.status == Video.Status.CANCELLED
        assert f"video/identify.cancelled:{video.pk}:1" in fake_inngest.event_ids()
    completed.refresh_from_db()
    assert completed.status == Video.Status.COMPLETED


@pytest.mark.django_db
def test_filtered_video_changelist_queries_are_constant(admin_client):
    url = reverse("admin:videos_video_changelist") + "?status__exact=failed&stuck=&owner="
    MAKERS["videos_video"]()
    count_queries(admin_client, url)  # warm the content-type cache (once per process)
    one = count_queries(admin_client, url)
    for _ in range(99):
        MAKERS["videos_video"]()
    assert count_queries(admin_client, url) == one


@pytest.mark.django_db
def test_video_change_page_queries_do_not_grow_with_children(admin_client):
    owner = UserFactory()

    def page_with(children: int) -> int:
        video = VideoFactory(owner=owner, status=Video.Status.COMPLETED)
        for n in range(children):
            ClipFactory(video=video, start=n * 60.0, end=n * 60.0 + 30)
            export = ExportFactory(video=video)
            ExportedClipFactory(export=export)
            OutboxEventFactory(job=export)
        return count_queries(admin_client, reverse("admin:videos_video_change", args=[video.pk]))

    page_with(0)  # warm the content-type cache that the first admin page fills
    assert page_with(1) == page_with(30)
