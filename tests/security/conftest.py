import pytest

from tests.factories import ClipFactory, VideoFactory
from videos.models import Video


@pytest.fixture
def completed_video(user):
    video = VideoFactory(owner=user, status=Video.Status.COMPLETED, duration_seconds=600.0)
    ClipFactory(video=video, start=0.0, end=30.0)
    return video


def assert_error_shape(response, status: int, code: str | None = None) -> dict:
    """The API's one error shape: {"error": {"code": str, "message": str, ...}}."""
    assert response.status_code == status, response.content[:300]
    assert response["Content-Type"].startswith("application/json")
    error = response.json()["error"]
    assert isinstance(error["code"], str) and isinstance(error["message"], str)
    if code:
        assert error["code"] == code
    return error
