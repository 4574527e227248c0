import pytest
from django.db import IntegrityError, transaction

from tests.factories import VideoFactory
from videos.models import Video

pytestmark = pytest.mark.django_db


def test_unknown_processing_status_is_rejected_by_the_database():
    video = VideoFactory()
    with pytest.raises(IntegrityError), transaction.atomic():
        Video.objects.filter(pk=video.pk).update(status="exploded")
    video.refresh_from_db()
    assert video.status == Video.Status.PENDING


def test_negative_duration_is_rejected_by_the_database():
    video = VideoFactory()
    with pytest.raises(IntegrityError), transaction.atomic():
        Video.objects.filter(pk=video.pk).update(duration_seconds=-5)


def test_s3_key_follows_the_contract():
    video = VideoFactory()
    assert video.s3_key == f"youtube-videos/{video.id}/yt"
