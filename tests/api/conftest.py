import pytest
from django.core.cache import cache

from tests.factories import ClipFactory, VideoFactory
from videos.models import Video


@pytest.fixture(autouse=True)
def _fresh_throttles():
    # Throttle counters live in the cache, which outlives a test's database transaction.
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def completed_video(user):
    """A video of `user` whose clips are identified: 3 clips in a 600-second video."""
    video = VideoFactory(
        owner=user,
        status=Video.Status.COMPLETED,
        duration_seconds=600.0,
        total_clips=3,
    )
    for start, score in ((0.0, 4), (100.0, 9), (200.0, 6)):
        ClipFactory(video=video, start=start, end=start + 30, virality_score=score)
    return video
