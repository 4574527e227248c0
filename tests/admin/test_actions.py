"""The admin's actions call the API's services and report exactly what they did."""

from datetime import timedelta

import pytest
from django.contrib.auth.models import Permission
from django.contrib.messages import get_messages
from django.urls import reverse
from django.utils import timezone

from exports.models import Export
from outbox.models import OutboxEvent
from outbox.services import event_record
from tests.factories import ExportFactory, VideoFactory
from videos.models import Video

pytestmark = pytest.mark.django_db(transaction=True)


def run_action(client, name, action, objects):
    response = client.post(
        reverse(f"admin:{name}_changelist"),
        {"action": action, "_selected_action": [str(obj.pk) for obj in objects]},
        follow=True,
    )
    assert response.status_code == 200
    return [str(message) for message in get_messages(response.wsgi_request)]


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


def test_rerun_exports_runs_only_failed_partial_or_stuck(admin_client, jobs, fake_inngest):
    fake_inngest.up()
    failed = ExportFactory(video=jobs["completed"], status=Export.Status.FAILED, last_error="x")
    partial = jobs["export"]
    completed = ExportFactory(video=jobs["completed"], status=Export.Status.COMPLETED)

    messages = run_action(admin_client, "exports_export", "rerun", [failed, partial, completed])

    assert messages[0].startswith("Ran 2 job(s) again. Left 1 alone")
    for export in (failed, partial, completed):
        export.refresh_from_db()
    assert (failed.status, partial.status, completed.status) == (
        Export.Status.PENDING,
        Export.Status.PENDING,
        Export.Status.COMPLETED,
    )
    assert f"clips/process:{failed.pk}:1" in fake_inngest.event_ids()


def test_resend_events_delivers_and_reports(admin_client, jobs, fake_inngest):
    lost = jobs["lost_event"]
    fake_inngest.up()
    fake_inngest.clear()
    delivered_before = OutboxEvent.objects.exclude(delivered_at=None).get()

    messages = run_action(
        admin_client, "outbox_outboxevent", "resend_events", [lost, delivered_before]
    )

    assert messages == [
        "Delivered 1 event(s); 0 failed; 1 skipped (already delivered or being sent)."
    ]
    lost.refresh_from_db()
    assert lost.delivered_at is not None and lost.attempts == 2
    assert fake_inngest.event_ids() == [lost.event_id]


def test_resend_events_reports_failures_while_inngest_is_down(admin_client, jobs, fake_inngest):
    lost = jobs["lost_event"]  # the fixture leaves the fake down

    messages = run_action(admin_client, "outbox_outboxevent", "resend_events", [lost])

    assert messages[0].startswith("Delivered 0 event(s); 1 failed; 0 skipped")
    assert "unreachable" in messages[0]
    lost.refresh_from_db()
    assert lost.delivered_at is None and lost.attempts == 2


def test_job_resend_actions_send_their_own_undelivered_events(admin_client, jobs, fake_inngest):
    fake_inngest.up()
    fake_inngest.clear()
    other = ExportFactory(video=jobs["failed"])
    fake_inngest.down()
    event_record(name="clips/process", data={"exportId": str(other.pk)}, job=other)
    fake_inngest.up()

    messages = run_action(admin_client, "exports_export", "resend_events", [jobs["export"]])

    assert messages == [
        "Delivered 1 event(s); 0 failed; 0 skipped (already delivered or being sent)."
    ]
    assert fake_inngest.event_ids() == [jobs["lost_event"].event_id]

    messages = run_action(admin_client, "videos_video", "resend_events", [jobs["failed"]])

    assert messages[0].startswith("Delivered 1 event(s)")
    assert fake_inngest.event_ids()[-1] == f"clips/process:{other.pk}:1"


def test_actions_need_the_change_permission(client, jobs, django_user_model):
    viewer = django_user_model.objects.create_user("viewer", password="pw", is_staff=True)
    viewer.user_permissions.add(Permission.objects.get(codename="view_video"))
    client.force_login(viewer)
    response = client.get(reverse("admin:videos_video_changelist"))
    assert response.status_code == 200
    assert b'name="action"' not in response.content


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


def test_cancel_exports_then_run_them_again(admin_client, fake_inngest):
    fake_inngest.up()
    export = ExportFactory(status=Export.Status.PROCESSING)

    assert run_action(admin_client, "exports_export", "cancel", [export]) == ["Cancelled 1 job(s)."]
    export.refresh_from_db()
    assert export.status == Export.Status.CANCELLED
    assert f"clips/process.cancelled:{export.pk}:1" in fake_inngest.event_ids()

    assert run_action(admin_client, "exports_export", "rerun", [export]) == ["Ran 1 job(s) again."]
    export.refresh_from_db()
    assert export.status == Export.Status.PENDING
