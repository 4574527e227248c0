"""The video services behind the API, which the admin and `resend_events` call too: submit
(idempotent with a key, validated without the API) and rerun."""

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from core.exceptions import ConflictError
from outbox.models import OutboxEvent
from tests.factories import VideoFactory
from videos.models import Video
from videos.services import video_rerun, video_submit

URL = "https://www.youtube.com/shorts/dQw4w9WgXcQ"


def test_video_submit_is_safe_to_repeat_with_a_key(user):
    first = video_submit(owner=user, youtube_url=URL, idempotency_key="abc")
    again = video_submit(owner=user, youtube_url=URL, idempotency_key="abc")
    assert first.pk == again.pk
    assert OutboxEvent.objects.count() == 1


def test_video_submit_validates_even_without_the_api(user):
    with pytest.raises(ValidationError) as caught:
        video_submit(owner=user, youtube_url="https://example.com/watch?v=dQw4w9WgXcQ")
    assert "youtube_url" in caught.value.message_dict
    assert not Video.objects.exists()


def test_video_rerun_puts_a_failed_video_back_to_pending_with_a_new_event(user):
    video = video_submit(owner=user, youtube_url=URL)
    Video.objects.filter(pk=video.pk).update(
        status=Video.Status.FAILED, last_error="API 500", finished_at=timezone.now()
    )

    video_rerun(video=video)

    video.refresh_from_db()
    assert (video.status, video.last_error, video.finished_at) == ("pending", "", None)
    assert list(OutboxEvent.objects.order_by("created_at").values_list("event_id", flat=True)) == [
        f"video/identify.clips:{video.pk}:1",
        f"video/identify.clips:{video.pk}:2",
    ]
    assert OutboxEvent.objects.get(event_id__endswith=":2").data["videoId"] == str(video.pk)


def test_a_completed_video_is_not_run_again(user):
    video = VideoFactory(owner=user, status=Video.Status.COMPLETED)
    with pytest.raises(ConflictError):
        video_rerun(video=video)
    assert not OutboxEvent.objects.exists()


def test_losing_a_race_on_the_idempotency_key_returns_the_winners_video(user, monkeypatch):
    """Two processes look the key up at the same moment, both miss, both insert: the unique
    constraint stops the second, which then answers with the first one's video."""
    import videos.services as services

    winner = video_submit(owner=user, youtube_url=URL, idempotency_key="race")
    real_lookup = services._video_for_key
    calls = []

    def stale_first_lookup(*, owner, key):
        calls.append(key)
        return None if len(calls) == 1 else real_lookup(owner=owner, key=key)

    monkeypatch.setattr(services, "_video_for_key", stale_first_lookup)
    loser = video_submit(owner=user, youtube_url=URL, idempotency_key="race")

    assert loser.pk == winner.pk
    assert len(calls) == 2
    assert Video.objects.count() == 1
    assert OutboxEvent.objects.count() == 1
    assert Video.objects.filter(owner=user).count() == 1  # the transaction is still usable
