"""The admin dashboard (`operations/dashboard.py`): linked from the admin's index, for staff only,
its counts and links lead to the rows they count, in a fixed handful of queries."""

import pytest
from django.urls import reverse

from tests.admin_pages import MAKERS, count_queries
from tests.factories import (
    OutboxEventFactory,
    VideoFactory,
)

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
