import pytest
from rest_framework.test import APIClient

from videos.models import Video

URL = "https://youtu.be/dQw4w9WgXcQ"


@pytest.fixture
def tight_rates(settings):
    settings.REST_FRAMEWORK = {
        **settings.REST_FRAMEWORK,
        "DEFAULT_THROTTLE_RATES": {"video_submit": "2/hour", "export_create": "1/minute"},
    }


def test_submissions_over_the_rate_get_429_with_retry_after(api_client, other_user, tight_rates):
    for _ in range(2):
        assert (
            api_client.post("/api/videos/", {"youtube_url": URL}, format="json").status_code == 202
        )

    response = api_client.post("/api/videos/", {"youtube_url": URL}, format="json")

    assert response.status_code == 429
    assert 3500 <= int(response.headers["Retry-After"]) <= 3600
    error = response.json()["error"]
    assert error["code"] == "throttled"
    assert "throttled" in error["message"].lower()
    assert Video.objects.count() == 2
    # Polling is never throttled, and the limit is per user.
    assert api_client.get("/api/videos/").status_code == 200
    other = APIClient()
    other.force_authenticate(other_user)
    assert other.post("/api/videos/", {"youtube_url": URL}, format="json").status_code == 202


def test_exports_over_the_rate_get_429(api_client, completed_video, tight_rates):
    path = f"/api/videos/{completed_video.pk}/exports/"
    body = {"clips": [{"start": 0, "end": 10}], "aspect_ratio": "9:16"}
    assert api_client.post(path, body, format="json").status_code == 202
    response = api_client.post(path, body, format="json")
    assert response.status_code == 429
    assert 1 <= int(response.headers["Retry-After"]) <= 60
    assert api_client.get(path).status_code == 200
