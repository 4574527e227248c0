"""The admin site (`operations/admin_site.py`): the jobs first on the index, no "View site"."""

import pytest
from django.urls import reverse

pytestmark = pytest.mark.django_db


def test_the_index_lists_videos_and_exports_first(admin_client):
    html = admin_client.get(reverse("admin:index")).content.decode()
    sections = [
        html.index(f'href="{reverse("admin:app_list", args=[label])}"')
        for label in ("videos", "exports", "accounts", "clips", "outbox")
    ]
    assert sections == sorted(sections)


def test_no_view_site_link_to_a_page_that_does_not_exist(admin_client):
    html = admin_client.get(reverse("admin:videos_video_changelist")).content.decode()
    assert "View site" not in html
