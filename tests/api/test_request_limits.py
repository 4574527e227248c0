"""Request body limits, per path (`api.request_limits`): the API refuses a body over its limit
with the JSON 413, and /api/inngest accepts the request bodies Inngest may send (up to 4 MB;
above that it sends `use_api` and the SDK fetches the state), not Django's 2.5 MB default, which
every other path keeps."""

import json

import pytest

from exports.models import Export
from tests.error_shape import assert_error_shape
from tests.factories import VideoFactory
from videos.models import Video


def exports_url(video) -> str:
    return f"/api/videos/{video.pk}/exports/"


def post_raw(client, url: str, raw: bytes):
    return client.post(url, data=raw, content_type="application/json")


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
def test_a_run_whose_requests_carry_almost_4_mb_completes(executor, settings):
    # Inngest sends the event and every memoized step output with each call, up to 4 MB
    # (pkg/consts/consts.go, MaxSDKRequestBodySize).
    assert settings.DATA_UPLOAD_MAX_MEMORY_SIZE in (None, 2_621_440)  # Django's default
    video = VideoFactory()

    run = executor.run("identify-clips", identify_event(video, notes="n" * 1_950_000))

    assert run.status == "completed"
    # "event" and "events" both carry it: over Django's limit, under Inngest's.
    assert 2_621_440 < executor.largest_body_bytes < 4 * 1024 * 1024
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


@pytest.mark.parametrize("url", ["/api/videos/", "exports"])
def test_a_body_over_the_api_limit_is_a_json_413(api_client, completed_video, url):
    url = exports_url(completed_video) if url == "exports" else url
    raw = json.dumps({"clips": [{}] * 400_000}).encode()  # the 1.2 MB

    response = post_raw(api_client, url, raw)

    error = assert_error_shape(response, 413, "request_too_large")
    assert "65536 bytes" in error["message"]
    assert Export.objects.count() == 0


def test_body_limits_are_per_path_and_the_longest_prefix_wins(settings):
    from api.request_limits import body_limit

    settings.KORAI_MAX_BODY_BYTES = {"/": 100, "/api/": 10, "/api/inngest": 1000}
    assert body_limit("/admin/login/") == 100
    assert body_limit("/api/videos/") == 10
    assert body_limit("/api/inngest") == 1000


def test_djangos_own_size_refusal_is_the_same_json_413(client, db, settings):
    # Under this path's limit, over Django's own: the admin's form parsing refuses it, and
    # Django's RequestDataTooBig becomes the same 413.
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 10
    response = client.post(
        "/admin/login/",
        data="username=a&password=" + "x" * 50,
        content_type="application/x-www-form-urlencoded",
    )
    assert_error_shape(response, 413, "request_too_large")
