"""What every admin page shares (`core/admin.py`): each list and page renders, read-only, with
actions only for who may change, in the same number of queries for 1 row as for 100; the
duration and excerpt helpers."""

import pytest
from django.contrib.auth.models import Permission
from django.urls import reverse

from clips.models import Clip
from core.admin import clock_text, duration_text, excerpt
from exports.models import ExportedClip
from outbox.models import OutboxEvent
from tests.admin_pages import MAKERS, count_queries
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.mark.parametrize(
    ("name", "query"),
    [
        ("videos_video", ""),
        ("videos_video", "?status__exact=failed"),
        ("videos_video", "?stuck=yes"),
        ("videos_video", "?owner=alice"),
        ("videos_video", "?created_at__gte=2020-01-01+00:00:00%2B00:00"),
        ("videos_video", "?q=vid"),
        ("exports_export", ""),
        ("exports_export", "?status__exact=partial&stuck=yes&owner=alice"),
        ("exports_exportedclip", "?outcome=failed"),
        ("clips_clip", "?q=Clip"),
        ("outbox_outboxevent", "?delivery=undelivered"),
        ("outbox_outboxevent", "?delivery=failed&name=clips/process"),
    ],
)
def test_changelists_render(admin_client, jobs, name, query):
    response = admin_client.get(reverse(f"admin:{name}_changelist") + query)
    assert response.status_code == 200, response.content[:500]


@pytest.mark.parametrize(
    ("name", "model"),
    [
        ("clips_clip", Clip),
        ("exports_exportedclip", ExportedClip),
        ("outbox_outboxevent", OutboxEvent),
    ],
)
def test_other_change_pages_render(admin_client, jobs, name, model):
    obj = model.objects.first()
    response = admin_client.get(reverse(f"admin:{name}_change", args=[obj.pk]))
    assert response.status_code == 200


def test_nothing_can_be_added_or_edited(admin_client, jobs):
    assert admin_client.get(reverse("admin:videos_video_add")).status_code == 403
    video = jobs["failed"]
    response = admin_client.post(
        reverse("admin:videos_video_change", args=[video.pk]),
        {"status": "completed"},
    )
    assert response.status_code == 403
    video.refresh_from_db()
    assert video.status == "failed"


def test_duration_and_excerpt():
    assert [duration_text(s) for s in (None, 4.4, 754, 3 * 3600 + 65)] == [
        "—",
        "4s",
        "12m 34s",
        "3h 01m",
    ]
    assert [clock_text(s) for s in (0, 12, 90.5, 3723)] == ["0:00", "0:12", "1:30.5", "1:02:03"]
    assert excerpt("first line\nsecond") == "first line"
    assert excerpt("x" * 100, 10) == "x" * 9 + "…"
    assert excerpt("") == ""


def test_actions_need_the_change_permission(client, jobs):
    viewer = UserFactory(username="viewer", is_staff=True)
    viewer.user_permissions.add(Permission.objects.get(codename="view_video"))
    client.force_login(viewer)
    response = client.get(reverse("admin:videos_video_changelist"))
    assert response.status_code == 200
    assert b'name="action"' not in response.content


@pytest.mark.django_db
@pytest.mark.parametrize("name", sorted(MAKERS))
def test_changelist_queries_do_not_grow_with_rows(admin_client, name):
    make = MAKERS[name]
    url = reverse(f"admin:{name}_changelist")
    make()
    count_queries(admin_client, url)  # warm the content-type cache (once per process)
    one = count_queries(admin_client, url)
    for _ in range(99):
        make()
    hundred = count_queries(admin_client, url)
    assert hundred == one
    # Session, user, the filtered count, the page's rows: no full-table COUNT(*) beside it.
    assert one <= 5, one
    print(f"\n{name} changelist: {one} queries for 1 row and for 100")
