import pytest

from devtools.executor import InngestExecutor
from outbox.models import OutboxEvent
from outbox.services import event_record
from tests.factories import VideoFactory

pytestmark = pytest.mark.django_db(transaction=True)


def test_cron_function_delivers_undelivered_events(live_server, fake_inngest):
    fake_inngest.down()
    video = VideoFactory()
    event = event_record(name="video/identify.clips", data={}, job=video)
    fake_inngest.up()

    run = InngestExecutor(base_url=live_server.url).run(
        "resend-undelivered-events",
        {"name": "inngest/scheduled.timer", "data": {"cron": "*/5 * * * *"}},
    )

    assert run.status == "completed", run.error
    assert run.output == {"delivered": 1, "failed": 0, "skipped": 0, "errors": []}
    assert fake_inngest.event_ids() == [event.event_id]
    assert OutboxEvent.objects.get().delivered_at is not None


def test_cron_function_reports_what_it_could_not_deliver(live_server, fake_inngest):
    fake_inngest.down()
    event_record(name="video/identify.clips", data={}, job=VideoFactory())

    run = InngestExecutor(base_url=live_server.url).run(
        "resend-undelivered-events", {"name": "inngest/scheduled.timer", "data": {}}
    )

    assert run.status == "completed", run.error
    assert run.output["failed"] == 1
    assert "unreachable" in run.output["errors"][0]
    assert OutboxEvent.objects.get().delivered_at is None
