"""A pending job says why it has not started while its event has not reached Inngest: the
status endpoint and the export's answer carry a plain sentence for their owner, never the event
API's address or the error (the export at no extra query, the status endpoint with one more, and
only while pending); the admin shows staff the real error (tests/jobs/test_admin.py). With the
development executor, both say it will take the event."""

import pytest
from django.utils import timezone

from exports.models import Export
from tests.factories import ExportFactory, OutboxEventFactory, VideoFactory
from videos.models import Video

VIDEO_URL = "https://www.youtube.com/watch?v=dQw4w9WgXcQ"
WAITING = "waiting to be sent to the job engine; it will be retried automatically"


def submit(api_client, capture_on_commit) -> dict:
    # The event is sent after commit, as in a real request.
    with capture_on_commit(execute=True):
        response = api_client.post("/api/videos/", {"youtube_url": VIDEO_URL}, format="json")
    assert response.status_code == 202
    return response.json()


def test_a_pending_video_whose_event_failed_to_send_says_why(
    api_client, fake_inngest, django_capture_on_commit_callbacks
):
    fake_inngest.down()
    video = submit(api_client, django_capture_on_commit_callbacks)

    body = api_client.get(f"/api/videos/{video['id']}/status/").json()

    assert body["processing_status"] == "pending"
    assert body["error"] is None  # nothing failed: the job waits
    # Nothing for the owner to do, and nothing of the internals: no address, no error, no advice.
    assert body["pending_reason"] == WAITING
    assert fake_inngest.url.removeprefix("http://") not in str(body)


def test_with_the_development_executor_a_pending_video_waits_for_it(
    api_client, fake_inngest, settings, django_capture_on_commit_callbacks
):
    settings.KORAI_DEV_EXECUTOR_RUNNING = True  # make run without a Dev Server
    fake_inngest.down()
    video = submit(api_client, django_capture_on_commit_callbacks)

    body = api_client.get(f"/api/videos/{video['id']}/status/").json()

    assert body["pending_reason"] == "waiting for the development executor to take its event"
    assert fake_inngest.posts == 0  # nothing tried to reach an Inngest that is not there


def test_once_the_event_is_delivered_the_reason_is_gone(
    api_client, fake_inngest, django_capture_on_commit_callbacks
):
    from outbox.services import events_resend_undelivered

    fake_inngest.down()
    video = submit(api_client, django_capture_on_commit_callbacks)
    fake_inngest.up()
    assert events_resend_undelivered().delivered == 1

    body = api_client.get(f"/api/videos/{video['id']}/status/").json()
    assert (body["processing_status"], body["pending_reason"]) == ("pending", None)


def test_a_video_delivered_at_once_has_no_pending_reason(
    api_client, fake_inngest, django_capture_on_commit_callbacks
):
    video = submit(api_client, django_capture_on_commit_callbacks)
    assert api_client.get(f"/api/videos/{video['id']}/status/").json()["pending_reason"] is None


def test_an_event_not_tried_yet_is_reported_as_not_sent(api_client, user):
    video = VideoFactory(owner=user)
    OutboxEventFactory(job=video)
    reason = api_client.get(f"/api/videos/{video.pk}/status/").json()["pending_reason"]
    assert reason == WAITING


def test_only_a_pending_video_has_a_pending_reason(api_client, user):
    # A failed job's old undelivered event does not explain anything about its failure.
    video = VideoFactory(owner=user, status=Video.Status.FAILED, last_error="boom")
    OutboxEventFactory(job=video, last_error="down")
    body = api_client.get(f"/api/videos/{video.pk}/status/").json()
    assert (body["error"], body["pending_reason"]) == ("boom", None)


def test_an_undelivered_export_event_does_not_make_its_video_pending(api_client, user):
    video = VideoFactory(owner=user)
    export = ExportFactory(video=video)
    OutboxEventFactory(job=export, last_error="Inngest event API answered 500: oops")
    assert api_client.get(f"/api/videos/{video.pk}/status/").json()["pending_reason"] is None
    export_body = api_client.get(f"/api/exports/{export.pk}/").json()
    assert export_body["pending_reason"] == WAITING


def _undelivered_events(video) -> None:
    for n, delivered in enumerate([timezone.now(), None, None]):
        OutboxEventFactory(job=video, delivered_at=delivered, last_error=f"error {n}")


def test_a_pending_video_s_status_reads_its_outbox_in_a_second_query(
    api_client, user, django_assert_num_queries
):
    video = VideoFactory(owner=user)
    _undelivered_events(video)
    with django_assert_num_queries(2):  # the video; its newest undelivered event
        body = api_client.get(f"/api/videos/{video.pk}/status/").json()
    assert body["pending_reason"] == WAITING


@pytest.mark.parametrize(
    "status",
    [Video.Status.PROCESSING, Video.Status.COMPLETED, Video.Status.FAILED, Video.Status.CANCELLED],
)
def test_any_other_status_is_one_query(api_client, user, status, django_assert_num_queries):
    # The polling hot path: no outbox read, whatever the outbox holds.
    video = VideoFactory(owner=user, status=status)
    _undelivered_events(video)
    with django_assert_num_queries(1):
        body = api_client.get(f"/api/videos/{video.pk}/status/").json()
    assert (body["processing_status"], body["pending_reason"]) == (status, None)


def test_the_export_answers_cost_no_extra_query(
    api_client, user, fake_inngest, django_assert_num_queries
):
    video = VideoFactory(owner=user, status=Video.Status.COMPLETED)
    exports = ExportFactory.create_batch(3, video=video, owner=user)
    for export in exports:
        OutboxEventFactory(
            job=export, attempts=1, last_error="Inngest event API did not answer within 1s"
        )
    with django_assert_num_queries(2):  # the export, its exported clips
        body = api_client.get(f"/api/exports/{exports[0].pk}/").json()
    assert body["status"] == Export.Status.PENDING
    assert body["pending_reason"] == WAITING
    with django_assert_num_queries(4):  # the video, count, page, exported clips
        listed = api_client.get(f"/api/videos/{video.pk}/exports/").json()["results"]
    assert [export["pending_reason"] for export in listed] == [WAITING] * 3
