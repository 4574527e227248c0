import json
import uuid

import pytest
import requests
from rest_framework.test import APIClient
from rest_framework.utils.encoders import JSONEncoder as DRFJSONEncoder

from exports.models import ExportedClip
from outbox.models import OutboxEvent
from tests.factories import ClipFactory, ExportedClipFactory, ExportFactory, VideoFactory
from videos.models import Video

VIDEO_ID = "dQw4w9WgXcQ"
URL = f"https://youtu.be/{VIDEO_ID}?si=tracking"
CANONICAL = f"https://www.youtube.com/watch?v={VIDEO_ID}"
VIDEOS = "/api/videos/"


def status_url(video) -> str:
    return f"/api/videos/{video.pk}/status/"


# --- authentication and ownership -------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("get", "/api/videos/"),
        ("post", "/api/videos/"),
        ("get", "/api/videos/{video}/"),
        ("delete", "/api/videos/{video}/"),
        ("get", "/api/videos/{video}/status/"),
        ("get", "/api/videos/{video}/clips/"),
        ("get", "/api/videos/{video}/exports/"),
        ("post", "/api/videos/{video}/exports/"),
        ("get", "/api/exports/{export}/"),
    ],
)
def test_every_endpoint_requires_authentication(db, method, path):
    export = ExportFactory()
    response = getattr(APIClient(), method)(
        path.format(video=export.video_id, export=export.pk), {}, format="json"
    )
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "not_authenticated"
    assert response.headers["WWW-Authenticate"] == "Token"


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("get", "/api/videos/{video}/"),
        ("delete", "/api/videos/{video}/"),
        ("get", "/api/videos/{video}/status/"),
        ("get", "/api/videos/{video}/clips/"),
        ("get", "/api/videos/{video}/exports/"),
        ("post", "/api/videos/{video}/exports/"),
        ("get", "/api/exports/{export}/"),
    ],
)
def test_another_users_video_or_export_is_not_found(api_client, other_user, method, path):
    video = VideoFactory(owner=other_user, status=Video.Status.COMPLETED)
    clip = ClipFactory(video=video)
    export = ExportFactory(video=video)
    body = {"clip_ids": [str(clip.pk)], "aspect_ratio": "9:16"}
    response = getattr(api_client, method)(
        path.format(video=video.pk, export=export.pk), body, format="json"
    )
    assert response.status_code == 404
    assert response.json() == {
        "error": {"code": "not_found", "message": response.json()["error"]["message"]}
    }
    assert str(video.pk) not in response.content.decode()
    assert export.__class__.objects.count() == 1  # the POST wrote nothing, the DELETE nothing
    assert Video.objects.filter(pk=video.pk).exists()


# --- POST /api/videos/ -----------------------------------------------------------------------


def test_submit_records_the_video_and_its_event_and_answers_202(api_client, user):
    response = api_client.post(
        VIDEOS, {"youtube_url": URL, "prompt": " funny moments "}, format="json"
    )

    assert response.status_code == 202
    body = response.json()
    video = Video.objects.get()
    assert body["id"] == str(video.pk)
    assert body["processing_status"] == "pending"
    assert body["youtube_url"] == CANONICAL
    assert body["youtube_id"] == VIDEO_ID
    assert body["prompt"] == "funny moments"
    assert body["s3_key"] == f"youtube-videos/{video.pk}/yt"
    assert body["error"] is None
    assert body["status_url"] == f"http://testserver/api/videos/{video.pk}/status/"
    assert response.headers["Location"] == body["status_url"]
    assert video.owner == user

    event = OutboxEvent.objects.get()
    assert event.name == "video/identify.clips"
    assert event.event_id == f"video/identify.clips:{video.pk}:1"
    assert event.job == video
    assert event.data == {
        "videoId": str(video.pk),
        "youtubeUrl": CANONICAL,
        "prompt": "funny moments",
        "userId": str(user.pk),
    }


def test_submit_without_prompt(api_client):
    response = api_client.post(VIDEOS, {"youtube_url": URL}, format="json")
    assert response.status_code == 202
    assert response.json()["prompt"] == ""


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({}, "youtube_url"),
        ({"youtube_url": ""}, "youtube_url"),
        ({"youtube_url": None}, "youtube_url"),
        ({"youtube_url": 42}, "youtube_url"),
        ({"youtube_url": "https://vimeo.com/12345"}, "youtube_url"),
        ({"youtube_url": "https://www.youtube.com/@channel"}, "youtube_url"),
        ({"youtube_url": "javascript:alert(1)"}, "youtube_url"),
        ({"youtube_url": "https://youtu.be/" + "a" * 3000}, "youtube_url"),
        ({"youtube_url": URL, "prompt": "x" * 1001}, "prompt"),
        ({"youtube_url": URL, "prompt": ["a list"]}, "prompt"),
        ({"youtube_url": URL, "prompt": "nul \x00 byte"}, "prompt"),
    ],
)
def test_submit_rejects_bad_input_and_writes_nothing(api_client, body, field):
    response = api_client.post(VIDEOS, body, format="json")
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "validation_error"
    assert list(error["fields"]) == [field]
    assert error["fields"][field][0]
    assert field in error["message"]
    assert not Video.objects.exists()
    assert not OutboxEvent.objects.exists()


def test_submit_rejects_a_body_that_is_not_json(api_client):
    response = api_client.post(VIDEOS, "youtube_url=x", content_type="application/json")
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "parse_error"
    response = api_client.post(VIDEOS, {"youtube_url": URL})  # multipart
    assert response.status_code == 415
    assert not Video.objects.exists()


def test_a_repeat_with_the_same_idempotency_key_returns_the_first_video(api_client):
    first = api_client.post(VIDEOS, {"youtube_url": URL}, format="json", HTTP_IDEMPOTENCY_KEY="k-1")
    again = api_client.post(VIDEOS, {"youtube_url": URL}, format="json", HTTP_IDEMPOTENCY_KEY="k-1")

    assert first.status_code == again.status_code == 202
    assert again.json()["id"] == first.json()["id"]
    assert Video.objects.count() == 1
    assert OutboxEvent.objects.count() == 1

    other_key = api_client.post(
        VIDEOS, {"youtube_url": URL}, format="json", HTTP_IDEMPOTENCY_KEY="k-2"
    )
    no_key = api_client.post(VIDEOS, {"youtube_url": URL}, format="json")
    assert len({first.json()["id"], other_key.json()["id"], no_key.json()["id"]}) == 3


def test_the_same_idempotency_key_of_another_user_is_another_video(api_client, other_user):
    other = APIClient()
    other.force_authenticate(other_user)
    mine = api_client.post(VIDEOS, {"youtube_url": URL}, format="json", HTTP_IDEMPOTENCY_KEY="k")
    theirs = other.post(VIDEOS, {"youtube_url": URL}, format="json", HTTP_IDEMPOTENCY_KEY="k")
    assert mine.json()["id"] != theirs.json()["id"]


def test_an_idempotency_key_reused_for_a_different_submission_is_a_409(api_client):
    api_client.post(VIDEOS, {"youtube_url": URL}, format="json", HTTP_IDEMPOTENCY_KEY="k")
    response = api_client.post(
        VIDEOS, {"youtube_url": URL, "prompt": "other"}, format="json", HTTP_IDEMPOTENCY_KEY="k"
    )
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "idempotency_key_reused"
    assert Video.objects.count() == 1


def test_an_over_long_idempotency_key_is_a_400(api_client):
    response = api_client.post(
        VIDEOS, {"youtube_url": URL}, format="json", HTTP_IDEMPOTENCY_KEY="k" * 256
    )
    assert response.status_code == 400
    assert "idempotency_key" in response.json()["error"]["fields"]
    assert not Video.objects.exists()


# --- GET /api/videos/ ------------------------------------------------------------------------


def test_list_is_the_users_videos_newest_first_paginated(api_client, user, other_user):
    videos = [VideoFactory(owner=user) for _ in range(3)]
    VideoFactory(owner=other_user)

    response = api_client.get(VIDEOS, {"page_size": 2})

    assert response.status_code == 200
    body = response.json()
    assert body["count"] == 3
    assert body["previous"] is None
    assert body["next"].endswith("/api/videos/?page=2&page_size=2")
    assert [v["id"] for v in body["results"]] == [str(v.pk) for v in reversed(videos)][:2]
    assert "clips" not in body["results"][0]
    second = api_client.get(body["next"]).json()
    assert [v["id"] for v in second["results"]] == [str(videos[0].pk)]


def test_list_filters_by_processing_status(api_client, user):
    done = VideoFactory(owner=user, status=Video.Status.COMPLETED)
    VideoFactory(owner=user, status=Video.Status.FAILED)
    response = api_client.get(VIDEOS, {"processing_status": "completed"})
    assert [v["id"] for v in response.json()["results"]] == [str(done.pk)]

    bad = api_client.get(VIDEOS, {"processing_status": "done"})
    assert bad.status_code == 400
    assert "processing_status" in bad.json()["error"]["fields"]


def test_a_page_past_the_end_is_a_404(api_client, user):
    VideoFactory(owner=user)
    response = api_client.get(VIDEOS, {"page": 5})
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"


def _queries_for(client, path) -> int:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as captured:
        assert client.get(path).status_code == 200
    return len(captured)


def test_list_makes_the_same_queries_for_1_and_50_videos(api_client, user):
    VideoFactory(owner=user)
    one = _queries_for(api_client, VIDEOS)
    VideoFactory.create_batch(49, owner=user)
    fifty = _queries_for(api_client, f"{VIDEOS}?page_size=50")
    assert one == fifty == 2  # count + page


# --- GET /api/videos/{id}/ -------------------------------------------------------------------


def test_detail_has_the_clips_highest_virality_first(api_client, completed_video):
    response = api_client.get(f"/api/videos/{completed_video.pk}/")
    assert response.status_code == 200
    body = response.json()
    assert body["id"] == str(completed_video.pk)
    assert body["processing_status"] == "completed"
    assert body["duration_seconds"] == 600.0
    assert [c["virality_score"] for c in body["clips"]] == [9, 6, 4]
    clip = body["clips"][0]
    assert set(clip) == {
        "id",
        "start",
        "end",
        "title",
        "summary",
        "virality_score",
        "related_topics",
        "transcript",
        "created_at",
    }
    assert (clip["start"], clip["end"]) == (100.0, 130.0)


def test_the_stored_source_video_has_a_download_url(api_client, completed_video, s3):
    path = f"/api/videos/{completed_video.pk}/"
    assert api_client.get(path).json()["source_download_url"] is None  # not stored yet

    s3.put(completed_video.s3_key, b"the source video")
    completed_video.s3_path = completed_video.s3_key  # what the identify API answers
    completed_video.save()

    url = api_client.get(path).json()["source_download_url"]
    fetched = requests.get(url, timeout=5)
    assert (fetched.status_code, fetched.content) == (200, b"the source video")


def test_an_unknown_video_is_a_404(api_client):
    response = api_client.get(f"/api/videos/{uuid.uuid4()}/")
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"


def test_a_failed_video_shows_its_error(api_client, user):
    video = VideoFactory(owner=user, status=Video.Status.FAILED, last_error="API 422")
    assert api_client.get(f"/api/videos/{video.pk}/").json()["error"] == "API 422"


# --- GET /api/videos/{id}/status/ ------------------------------------------------------------


def test_status_has_the_counts_and_error(api_client, completed_video):
    export = ExportFactory(video=completed_video)
    ExportedClipFactory(export=export, start=0, end=30)
    ExportedClipFactory(export=export, start=100, end=130)
    ExportedClipFactory(export=export, start=200, end=230, s3_key="", error="render failed")

    response = api_client.get(status_url(completed_video))

    assert response.status_code == 200
    body = response.json()
    assert body["id"] == str(completed_video.pk)
    assert body["processing_status"] == "completed"
    assert body["total_clips"] == 3
    assert body["exported_clips"] == 2  # the failed one is not an exported clip
    assert body["error"] is None
    assert set(body) >= {"attempts", "created_at", "updated_at", "started_at", "finished_at"}


def test_status_of_a_failed_video(api_client, user):
    video = VideoFactory(owner=user, status=Video.Status.FAILED, last_error="boom")
    body = api_client.get(status_url(video)).json()
    assert (body["processing_status"], body["error"], body["exported_clips"]) == (
        "failed",
        "boom",
        0,
    )


def test_status_is_one_query_without_loading_clips(
    api_client, completed_video, django_assert_num_queries
):
    export = ExportFactory(video=completed_video)
    ExportedClipFactory.create_batch(20, export=export)
    with django_assert_num_queries(1) as captured:
        response = api_client.get(status_url(completed_video))
    assert response.json()["exported_clips"] == 20
    sql = captured.captured_queries[0]["sql"]
    assert '"clips_clip"' not in sql
    assert '"exports_exportedclip"' not in sql  # the count is kept on the video


@pytest.mark.parametrize("status", [Video.Status.PROCESSING, Video.Status.FAILED])
def test_status_answer_is_exactly_what_its_documented_serializer_gives(api_client, user, status):
    from django.utils import timezone

    from videos.selectors import video_status_get
    from videos.serializers import VideoStatusOutputSerializer

    video = VideoFactory(
        owner=user,
        status=status,
        last_error="boom" if status == Video.Status.FAILED else "",
        started_at=timezone.now(),
        attempts=2,
    )
    ExportedClipFactory(export=ExportFactory(video=video))

    body = api_client.get(status_url(video)).json()

    documented = VideoStatusOutputSerializer(video_status_get(user=user, video_id=video.pk)).data
    assert body == json.loads(json.dumps(documented, cls=DRFJSONEncoder))


def test_status_queries_are_the_same_with_token_auth_for_1_and_50_clips(user):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext
    from rest_framework.authtoken.models import Token

    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=user).key}")
    video = VideoFactory(owner=user, status=Video.Status.COMPLETED)
    ClipFactory(video=video)
    with CaptureQueriesContext(connection) as cold:
        client.get(status_url(video))
    with CaptureQueriesContext(connection) as one:
        client.get(status_url(video))
    ClipFactory.create_batch(49, video=video)
    ExportedClipFactory.create_batch(50, export=ExportFactory(video=video))
    with CaptureQueriesContext(connection) as fifty:
        response = client.get(status_url(video))
    assert response.json()["exported_clips"] == 50
    assert len(cold) == 2  # the token, the status row
    assert len(one) == len(fifty) == 1  # the token's user is cached between polls


# --- GET /api/videos/{id}/clips/ -------------------------------------------------------------


def test_clips_highest_score_first_with_optional_minimum(api_client, completed_video):
    response = api_client.get(f"/api/videos/{completed_video.pk}/clips/")
    assert response.status_code == 200
    body = response.json()
    assert body["count"] == 3
    assert [c["virality_score"] for c in body["results"]] == [9, 6, 4]

    filtered = api_client.get(f"/api/videos/{completed_video.pk}/clips/", {"min_score": 5})
    assert [c["virality_score"] for c in filtered.json()["results"]] == [9, 6]

    bad = api_client.get(f"/api/videos/{completed_video.pk}/clips/", {"min_score": "high"})
    assert bad.status_code == 400
    assert "min_score" in bad.json()["error"]["fields"]


def test_clips_make_the_same_queries_for_1_and_50(api_client, user):
    video = VideoFactory(owner=user)
    ClipFactory(video=video)
    path = f"/api/videos/{video.pk}/clips/?page_size=50"
    one = _queries_for(api_client, path)
    ClipFactory.create_batch(49, video=video)
    assert _queries_for(api_client, path) == one == 3  # video, count, page


def test_exported_clip_factory_rows_are_counted_per_video(api_client, user):
    # Two videos' exported clips never mix in the status count.
    first = VideoFactory(owner=user, status=Video.Status.COMPLETED)
    second = VideoFactory(owner=user, status=Video.Status.COMPLETED)
    ExportedClipFactory(export=ExportFactory(video=first))
    ExportedClipFactory.create_batch(2, export=ExportFactory(video=second))
    assert api_client.get(status_url(first)).json()["exported_clips"] == 1
    assert api_client.get(status_url(second)).json()["exported_clips"] == 2
    assert ExportedClip.objects.count() == 3
