"""The admin dashboard (`operations/dashboard.py`): linked from the admin's index, for staff only,
its counts and links lead to the rows they count, in a fixed handful of queries."""

import pytest
from django.urls import reverse

from tests.admin_pages import MAKERS, count_queries
from tests.factories import (
    OutboxEventFactory,
    VideoFactory,
)
from videos.services import video_submit

pytestmark = pytest.mark.django_db(transaction=True)


def test_index_links_the_dashboard(admin_client):
    response = admin_client.get(reverse("admin:index"))
    assert response.status_code == 200
    assert reverse("admin-dashboard").encode() in response.content


def test_dashboard_counts_and_links(admin_client, jobs):
    response = admin_client.get(reverse("admin-dashboard"))
    assert response.status_code == 200
    videos, exports = response.context["jobs"]
    counts = {row["status"]: [c["count"] for c in row["cells"]] for row in videos["rows"]}
    assert counts == {
        "pending": [0, 0],
        "processing": [1, 1],
        "completed": [1, 1],
        "failed": [1, 1],
        "cancelled": [0, 0],
    }
    assert videos["stuck_count"] == 1
    assert [row["job"].pk for row in videos["failures"]] == [jobs["failed"].pk]
    assert exports["failures"][0]["job"].pk == jobs["export"].pk  # partial counts as failure
    events = response.context["events"]
    assert (events["total"], events["failed"]) == (1, 1)
    html = response.content.decode()
    assert "Clips API answered 422" in html
    # Each link leads to the rows it counted.
    failed_link = videos["rows"][3]["cells"][0]["url"]
    assert [v.pk for v in admin_client.get(failed_link).context["cl"].result_list] == [
        jobs["failed"].pk
    ]
    undelivered = admin_client.get(events["url"]).context["cl"].result_list
    assert [e.pk for e in undelivered] == [jobs["lost_event"].pk]


def test_dashboard_needs_staff(client, jobs):
    response = client.get(reverse("admin-dashboard"))
    assert response.status_code == 302
    assert reverse("admin:login") in response["Location"]


@pytest.mark.django_db
def test_dashboard_makes_a_fixed_handful_of_queries(admin_client):
    url = reverse("admin-dashboard")
    MAKERS["videos_video"]()
    MAKERS["outbox_outboxevent"]()
    one = count_queries(admin_client, url)
    for _ in range(30):
        MAKERS["videos_video"]()
        MAKERS["exports_export"]()
        OutboxEventFactory(job=VideoFactory(), attempts=1)
    assert count_queries(admin_client, url) == one
    assert one == 2 + 9  # session and user, then the dashboard's nine


def test_with_the_development_executor_the_outbox_says_what_takes_the_events(
    admin_client, dev, fake_inngest, user, settings
):
    settings.KORAI_DEV_EXECUTOR_RUNNING = True  # make run without a Dev Server
    fake_inngest.down()
    video_submit(owner=user, youtube_url="https://www.youtube.com/watch?v=dQw4w9WgXcQ")

    waiting = _outbox_section(admin_client)
    assert "1 event(s) waiting for the development executor" in waiting
    assert "Inngest" not in waiting and "resend_events" not in waiting

    assert dev.poll_once() == 1
    assert "Every event was taken by the development executor." in _outbox_section(admin_client)


def test_without_it_the_outbox_says_the_events_reached_inngest(admin_client, fake_inngest, user):
    video_submit(owner=user, youtube_url="https://www.youtube.com/watch?v=dQw4w9WgXcQ")
    assert "Every event reached Inngest." in _outbox_section(admin_client)


def _outbox_section(client) -> str:
    html = client.get(reverse("admin-dashboard")).content.decode()
    return html[html.index('id="dashboard-events"') : html.index('id="dashboard-cleanups"')]
