"""The database itself, not Django's validation, enforces the clip invariants."""

import pytest
from django.db import IntegrityError, transaction

from clips.models import Clip
from tests.factories import ClipFactory, VideoFactory

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(("start", "end"), [(30.0, 30.0), (40.0, 30.0), (-1.0, 10.0)])
def test_invalid_range_is_rejected_by_the_database(start, end):
    video = VideoFactory()
    with pytest.raises(IntegrityError), transaction.atomic():
        Clip.objects.create(video=video, start=start, end=end)
    assert not Clip.objects.exists()


def test_duplicate_range_for_the_same_video_is_rejected():
    clip = ClipFactory(start=10.0, end=20.0)
    with pytest.raises(IntegrityError), transaction.atomic():
        Clip.objects.create(video=clip.video, start=10.0, end=20.0)
    assert Clip.objects.count() == 1


def test_same_range_on_another_video_is_allowed():
    ClipFactory(start=10.0, end=20.0)
    ClipFactory(start=10.0, end=20.0)
    assert Clip.objects.count() == 2
