"""/api/ paths work with and without their trailing slash (`api.middleware.ApiPathMiddleware`),
served by their twin, not redirected."""

import pytest
from django.test import override_settings

from tests.factories import VideoFactory
from videos.models import Video

VIDEO_URL = "https://www.youtube.com/watch?v=dQw4w9WgXcQ"


@pytest.mark.parametrize("debug_mode", [False, True])
def test_post_without_the_trailing_slash_submits_the_video(api_client, debug_mode, fake_inngest):
    with override_settings(DEBUG=debug_mode):
        response = api_client.post("/api/videos", {"youtube_url": VIDEO_URL}, format="json")
    assert response.status_code == 202, response.content
    assert response.json()["processing_status"] == "pending"
    assert Video.objects.count() == 1


def test_every_endpoint_answers_with_and_without_the_trailing_slash(api_client, user):
    video = VideoFactory(owner=user)
    for endpoint in (
        "/api/videos/",
        f"/api/videos/{video.pk}/",
        f"/api/videos/{video.pk}/status/",
        f"/api/videos/{video.pk}/clips/",
        f"/api/videos/{video.pk}/exports/",
    ):
        with_slash = api_client.get(endpoint)
        without_slash = api_client.get(endpoint.rstrip("/"))
        assert with_slash.status_code == without_slash.status_code == 200, endpoint
        assert with_slash.json() == without_slash.json()


def test_the_inngest_endpoint_answers_with_a_trailing_slash_too(client):
    # Its canonical path has none; an unsigned GET is refused by the SDK either way, not a 404.
    assert client.get("/api/inngest").status_code == client.get("/api/inngest/").status_code == 401
