"""Every admin page makes the same number of queries for 1 row as for 100."""

import uuid

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from exports.models import Export
from outbox.models import OutboxEvent
from tests.factories import (
    ClipFactory,
    ExportedClipFactory,
    ExportFactory,
    UserFactory,
    VideoFactory,
)
from videos.models import Video, VideoDeletion

# Each factory call makes one row with its own owner/video/export, the worst case for N+1.
MAKERS = {
    "videos_video": lambda: VideoFactory(
        status=Video.Status.FAILED, last_error="boom", timeline=[{"step": "s"}]
    ),
    "exports_export": lambda: ExportFactory(status=Export.Status.FAILED, last_error="boom"),
    "clips_clip": lambda: ClipFactory(),
    "exports_exportedclip": lambda: ExportedClipFactory(),
    "outbox_outboxevent": lambda: OutboxEvent.objects.create(
        event_id=f"clips/process:{(e := ExportFactory()).pk}:1",
        name="clips/process",
        data={},
        job=e,
    ),
    "videos_videodeletion": lambda: VideoDeletion.objects.create(
        id=uuid.uuid4(),
        owner=UserFactory(),
        youtube_id="dQw4w9WgXcQ",
        prefixes=["youtube-videos/x/"],
        last_error="object storage: down",
    ),
}


def count_queries(client, url) -> int:
    with CaptureQueriesContext(connection) as queries:
        response = client.get(url)
    assert response.status_code == 200
    return len(queries)


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


@pytest.mark.django_db
def test_filtered_video_changelist_queries_are_constant(admin_client):
    url = reverse("admin:videos_video_changelist") + "?status__exact=failed&stuck=&owner="
    MAKERS["videos_video"]()
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
            OutboxEvent.objects.create(
                event_id=f"clips/process:{export.pk}:1",
                name="clips/process",
                data={},
                job=export,
            )
        return count_queries(admin_client, reverse("admin:videos_video_change", args=[video.pk]))

    page_with(0)  # warm the content-type cache that the first admin page fills
    assert page_with(1) == page_with(30)


@pytest.mark.django_db
def test_export_change_page_queries_do_not_grow_with_clips(admin_client):
    def page_with(children: int) -> int:
        export = ExportFactory()
        for n in range(children):
            ExportedClipFactory(export=export, start=n * 60.0, end=n * 60.0 + 30)
        return count_queries(admin_client, reverse("admin:exports_export_change", args=[export.pk]))

    page_with(0)
    assert page_with(1) == page_with(30)


@pytest.mark.django_db
def test_dashboard_makes_a_fixed_handful_of_queries(admin_client):
    url = reverse("admin-dashboard")
    MAKERS["videos_video"]()
    MAKERS["outbox_outboxevent"]()
    one = count_queries(admin_client, url)
    for _ in range(30):
        MAKERS["videos_video"]()
        MAKERS["exports_export"]()
        OutboxEvent.objects.create(
            event_id=f"video/identify.clips:{(v := VideoFactory()).pk}:1",
            name="video/identify.clips",
            data={},
            job=v,
            attempts=1,
        )
    assert count_queries(admin_client, url) == one
    assert one == 2 + 9  # session and user, then the dashboard's nine
