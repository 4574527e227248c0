"""/api/inngest accepts the request bodies Inngest may send (its run state: up to 32 MB), not
Django's 2.5 MB default, which every other path keeps."""

import pytest

from tests.factories import VideoFactory
from videos.models import Video


def identify_event(video, **extra):
    return {
        "name": "video/identify.clips",
        "data": {
            "videoId": str(video.id),
            "youtubeUrl": video.youtube_url,
            "prompt": "",
            "userId": str(video.owner_id),
            **extra,
        },
    }


@pytest.mark.django_db(transaction=True)
def test_a_run_whose_requests_carry_6_mb_completes(executor, settings):
    # Inngest sends the event (3 MB at most) and every memoized step output with each call.
    assert settings.DATA_UPLOAD_MAX_MEMORY_SIZE in (None, 2_621_440)  # Django's default
    video = VideoFactory()

    run = executor.run("identify-clips", identify_event(video, notes="n" * 6_000_000))

    assert run.status == "completed"
    assert executor.largest_body_bytes > 12_000_000  # "event" and "events" both carry it
    video.refresh_from_db()
    assert video.status == Video.Status.COMPLETED


@pytest.mark.django_db(transaction=True)
def test_a_body_over_the_limit_is_a_413_and_runs_nothing(executor, fake_clips_api, settings):
    settings.INNGEST_MAX_BODY_BYTES = 50_000
    video = VideoFactory()

    response = executor.post(
        {"event": identify_event(video, notes="n" * 60_000)},
        params={"fnId": "korai-app-identify-clips", "stepId": "step"},
    )

    assert response.status_code == 413
    error = response.json()["error"]  # the API's error shape (api.request_limits)
    assert error["code"] == "request_too_large"
    assert "larger than 50000 bytes" in error["message"]
    assert fake_clips_api.count("identify") == 0
    video.refresh_from_db()
    assert video.status == Video.Status.PENDING
