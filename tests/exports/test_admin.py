"""The exports' admin (`exports/admin.py`): an export's page with its per-clip errors and events,
the run-again and cancel actions, and a page whose queries do not grow with its clips."""

import re

import pytest
import requests
from django.urls import reverse

from exports.models import Export
from exports.services import export_create
from tests.admin_pages import count_queries, field_text, run_action
from tests.factories import (
    ExportedClipFactory,
    ExportFactory,
)

pytestmark = pytest.mark.django_db(transaction=True)


def test_export_change_page_shows_per_clip_errors(admin_client, jobs):
    html = admin_client.get(
        reverse("admin:exports_export_change", args=[jobs["export"].pk])
    ).content.decode()
    assert "GPU out of memory" in html
    assert 'korai-badge--amber">partial</span>' in html
    assert jobs["lost_event"].event_id in html


def test_the_selected_ranges_read_as_times_in_the_video(
    admin_client, completed_video, fake_inngest
):
    fake_inngest.up()
    export = export_create(
        video=completed_video,
        owner=completed_video.owner,
        aspect_ratio="9:16",
        clips=[{"start": 12, "end": 45}, {"start": 62, "end": 90.5}],
    )
    html = admin_client.get(reverse("admin:exports_export_change", args=[export.pk])).content
    assert field_text(html.decode(), "ranges") == "0:12\N{EN DASH}0:45, 1:02\N{EN DASH}1:30.5"


def test_a_rendered_clip_plays_from_the_exports_page_and_its_own(admin_client, jobs, s3):
    export = jobs["export"]
    rendered = export.exported_clips.exclude(s3_key="").get()
    s3.put(rendered.s3_key, b"bytes of the clip")
    pages = [
        reverse("admin:exports_export_change", args=[export.pk]),
        reverse("admin:exports_exportedclip_change", args=[rendered.pk]),
    ]
    for page in pages:
        html = admin_client.get(page).content.decode()
        (link,) = re.findall(
            r'<a href="([^"]+)" target="_blank" rel="noopener">play / download', html
        )
        fetched = requests.get(link.replace("&amp;", "&"), timeout=5)
        assert (fetched.status_code, fetched.content) == (200, b"bytes of the clip")


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


@pytest.mark.django_db
def test_export_change_page_queries_do_not_grow_with_clips(admin_client):
    def page_with(children: int) -> int:
        export = ExportFactory()
        for n in range(children):
            ExportedClipFactory(export=export, start=n * 60.0, end=n * 60.0 + 30)
        return count_queries(admin_client, reverse("admin:exports_export_change", args=[export.pk]))

    page_with(0)
    assert page_with(1) == page_with(30)
