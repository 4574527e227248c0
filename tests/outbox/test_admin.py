"""Resending undelivered events from the admin: the outbox's action, and the job admins' action
for a job's own events; each reports exactly what it did."""

import pytest
from django.urls import reverse

from outbox.models import OutboxEvent
from outbox.services import event_record
from tests.admin_pages import run_action
from tests.factories import ExportFactory

pytestmark = pytest.mark.django_db(transaction=True)


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


def test_with_the_development_executor_a_resend_says_it_will_take_the_events(
    admin_client, fake_inngest, settings
):
    settings.KORAI_DEV_EXECUTOR_RUNNING = True  # make run without a Dev Server
    fake_inngest.down()  # nothing listens where Inngest would be
    export = ExportFactory()
    recorded = event_record(name="clips/process", data={"exportId": str(export.pk)}, job=export)

    response = admin_client.post(
        reverse("admin:outbox_outboxevent_changelist"),
        {"action": "resend_events", "_selected_action": [recorded.pk]},
        follow=True,
    )

    html = response.content.decode()
    assert '<li class="info">Recorded 1 event(s): the development executor will take them.' in html
    assert '<li class="error">' not in html and "unreachable" not in html
    recorded.refresh_from_db()
    assert (recorded.delivered_at, recorded.attempts) == (None, 0)  # left for the executor
    assert fake_inngest.posts == 0


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
