"""Each of the web client's calls, replayed as its pages send them (the Clerk `__session`
cookie, verified against the fake Clerk's JWKS over HTTP), with every field the pages read and
its type; and the refusals."""

import uuid
from datetime import timedelta
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from django.utils import timezone

from exports.models import Export
from jobs.records import job_start
from outbox.models import OutboxEvent
from tests.factories import (
    ClipFactory,
    ExportedClipFactory,
    ExportFactory,
    UserFactory,
    VideoFactory,
)
from tests.videos.test_identify_steps import answer as identify_answer
from tests.webclient.pages import (
    CLIP_FIELDS,
    EXPORTED_CLIP_FIELDS,
    OLDER_VIDEO_FIELDS,
    VIDEO_FIELDS,
    Page,
    assert_fields,
)
from videos.models import Video, VideoDeletion
from videos.services import video_complete, video_submit

pytestmark = pytest.mark.django_db
URL = "https://www.youtube.com/watch?v=dQw4w9WgXcQ"


@pytest.fixture
def video(web_user):
    """A completed video of the signed-in user, its clips scored 0-10 as the real API does."""
    video = VideoFactory(
        owner=web_user,
        status=Video.Status.COMPLETED,
        total_clips=3,
        duration_seconds=1200.5,
        detected_language="en",
        s3_path="youtube-videos/x/yt/video.mp4",
    )
    ClipFactory(video=video, start=154.623, end=190.0, virality_score=9, title="Nine")
    ClipFactory(video=video, start=10.0, end=45.25, virality_score=10, title="Ten")
    ClipFactory(video=video, start=300.0, end=330.0, virality_score=2, title="Two")
    return video


# --- POST /api/clips/identify ----------------------------------------------------------------


def test_identify_starts_a_video(page, web_user, fake_inngest):
    answer = page.post("/api/clips/identify", {"youtubeUrl": URL, "prompt": "funny bits"})

    assert answer.status_code == 202, answer.content
    body = answer.json()
    assert body["success"] is True
    assert isinstance(body["message"], str)
    video = Video.objects.get(owner=web_user)
    assert body["videoId"] == str(video.pk)
    assert (video.youtube_url, video.prompt, video.status) == (
        URL,
        "funny bits",
        "pending",
    )
    assert list(OutboxEvent.objects.values_list("name", flat=True)) == ["video/identify.clips"]


def test_identify_with_the_pages_empty_prompt(page, web_user, fake_inngest):
    assert page.post("/api/clips/identify", {"youtubeUrl": URL, "prompt": ""}).status_code == 202


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"youtubeUrl": "https://vimeo.com/1", "prompt": ""}, "youtubeUrl"),
        ({"prompt": "x"}, "youtubeUrl"),
        ({"youtubeUrl": URL, "prompt": "x" * 5000}, "prompt"),
    ],
)
def test_identify_refuses_bad_input_with_a_message(page, body, field):
    answer = page.post("/api/clips/identify", body)

    assert answer.status_code == 400
    assert answer.json()["error"].startswith(f"{field}: ")
    assert not Video.objects.exists()


def test_identify_refuses_a_malformed_body(page):
    answer = page.client.post(
        "/api/clips/identify",
        data="{not json",
        content_type="application/json",
        HTTP_ORIGIN="https://app.korai.test",
    )

    assert answer.status_code == 400
    assert isinstance(answer.json()["error"], str)


def test_identify_is_throttled_like_korais_own_submissions(page, settings, fake_inngest):
    settings.REST_FRAMEWORK = {
        **settings.REST_FRAMEWORK,
        "DEFAULT_THROTTLE_RATES": {"video_submit": "1/hour", "export_create": "1/hour"},
    }
    assert page.post("/api/clips/identify", {"youtubeUrl": URL, "prompt": ""}).status_code == 202

    answer = page.post("/api/clips/identify", {"youtubeUrl": URL, "prompt": ""})

    assert answer.status_code == 429
    assert "throttled" in answer.json()["error"].lower()


# --- GET /api/clips/videos -------------------------------------------------------------------


def test_the_list_has_every_field_the_page_reads_newest_first(page, web_user, video):
    failed = VideoFactory(
        owner=web_user,
        status=Video.Status.FAILED,
        last_error="The clips service refused the video.",
    )
    Video.objects.filter(pk=failed.pk).update(created_at=video.created_at + timedelta(minutes=1))
    VideoFactory()  # someone else's

    answer = page.get("/api/clips/videos")

    assert answer.status_code == 200
    videos = answer.json()["videos"]
    assert [v["id"] for v in videos] == [str(failed.pk), str(video.pk)]
    for item in videos:
        assert_fields(item, VIDEO_FIELDS)
    newest, done = videos
    assert (newest["processingStatus"], newest["error"], newest["totalClips"]) == (
        "failed",
        "The clips service refused the video.",
        0,
    )
    assert done == {
        **done,
        "youtubeUrl": video.youtube_url,
        "s3Key": video.s3_key,
        "totalClips": 3,
        "videoDuration": "1200.5",
        "detectedLanguage": "en",
        "processingStatus": "completed",
        "error": None,
    }
    assert done["createdAt"].endswith("Z")


@pytest.mark.parametrize("status", [Video.Status.PENDING, Video.Status.PROCESSING])
def test_total_clips_stays_0_until_the_video_completes(page, web_user, status):
    # Mid-save, the count may already be on the row; the page must keep showing "Processing…".
    VideoFactory(owner=web_user, status=status, total_clips=4)

    (item,) = page.get("/api/clips/videos").json()["videos"]

    assert (item["totalClips"], item["processingStatus"]) == (0, status)


def test_the_list_is_empty_for_a_new_user(page):
    assert page.get("/api/clips/videos").json() == {"videos": []}


def test_the_list_costs_the_same_queries_for_1_or_50_videos(
    page, web_user, django_assert_num_queries
):
    VideoFactory(owner=web_user)
    page.get("/api/clips/videos")  # signs in: the user is then cached
    with django_assert_num_queries(1):
        assert len(page.get("/api/clips/videos").json()["videos"]) == 1

    VideoFactory.create_batch(49, owner=web_user, status=Video.Status.COMPLETED)
    with django_assert_num_queries(1):
        assert len(page.get("/api/clips/videos").json()["videos"]) == 50


# --- GET /api/clips/videos/{id} --------------------------------------------------------------


def test_the_detail_has_the_clips_best_first_by_number(page, video):
    answer = page.get(f"/api/clips/videos/{video.pk}")

    assert answer.status_code == 200
    detail = answer.json()["video"]
    assert_fields(detail, VIDEO_FIELDS)
    assert (detail["id"], detail["totalClips"], detail["processingStatus"]) == (
        str(video.pk),
        3,
        "completed",
    )
    # 10 > 9 > 2 as numbers (as strings "9" would come first).
    assert [c["viralityScore"] for c in detail["clips"]] == ["10", "9", "2"]
    for clip in detail["clips"]:
        assert_fields(clip, CLIP_FIELDS)
        assert all(isinstance(topic, str) for topic in clip["relatedTopics"])
    assert [(c["start"], c["end"]) for c in detail["clips"]] == [
        ("10", "45.25"),
        ("154.623", "190"),
        ("300", "330"),
    ]


def test_the_detail_costs_three_queries(page, video, django_assert_num_queries):
    page.get("/api/clips/videos")  # signs in
    with django_assert_num_queries(2):  # the video, its clips
        assert page.get(f"/api/clips/videos/{video.pk}").status_code == 200


@pytest.mark.parametrize("path", ["", "/exported"])
def test_another_users_video_is_not_found(intruder_page, video, path):
    answer = intruder_page.get(f"/api/clips/videos/{video.pk}{path}")

    assert answer.status_code == 404
    assert isinstance(answer.json()["error"], str)


@pytest.mark.parametrize("video_id", ["clr1x2y3z0000abcd", uuid.uuid4()])
def test_an_unknown_id_is_not_found(page, video_id):
    answer = page.get(f"/api/clips/videos/{video_id}")

    assert answer.status_code == 404
    assert "video" in answer.json()["error"].lower()


# --- The older pages: GET /api/clips/list, GET /api/clips/{videoId} --------------------------


def identified_video(owner, *ranges_and_scores):
    """A video submitted and identified by the services the route and the steps call."""
    video = video_submit(owner=owner, youtube_url=URL, prompt="funny bits")
    job_start(model=Video, job_id=str(video.pk), run_id="r", step="create-video-record", attempt=0)
    identified = identify_answer(*(r for r, _ in ranges_and_scores))
    for clip, (_, score) in zip(identified["identified_clips"], ranges_and_scores, strict=True):
        clip["virality_score"] = score
    return video_complete(video_id=str(video.pk), identified=identified, attempt=0)


def test_the_older_list_is_a_bare_array_newest_first_with_clip_counts(page, web_user):
    done = identified_video(web_user, ((1, 2), 9), ((3, 4), 10), ((5, 6), 2))
    pending = video_submit(owner=web_user, youtube_url=URL, prompt="")
    video_submit(owner=UserFactory(), youtube_url=URL, prompt="")  # someone else's

    answer = page.get("/api/clips/list")

    assert answer.status_code == 200
    videos = answer.json()
    assert [v["id"] for v in videos] == [str(pending.pk), str(done.pk)]
    for item in videos:
        assert_fields(item, OLDER_VIDEO_FIELDS)
    newest, oldest = videos
    assert (newest["totalClips"], newest["_count"], newest["prompt"]) == (None, {"clips": 0}, None)
    assert oldest == {
        **oldest,
        "userId": "user_web",
        "youtubeUrl": URL,
        "s3Key": done.s3_key,
        "prompt": "funny bits",
        "totalClips": 3,
        "_count": {"clips": 3},
        "videoDuration": "300",
        "detectedLanguage": "en",
        "processingStatus": "completed",
    }
    assert oldest["updatedAt"].endswith("Z") and oldest["updatedAt"] >= oldest["createdAt"]


def test_the_older_list_costs_one_query_for_1_or_20_videos(
    page, web_user, django_assert_num_queries
):
    identified_video(web_user, ((1, 2), 5))
    page.get("/api/clips/list")  # signs in: the user is then cached
    with django_assert_num_queries(1):
        assert len(page.get("/api/clips/list").json()) == 1

    for _ in range(19):
        identified_video(web_user, ((1, 2), 5), ((3, 4), 6))
    with django_assert_num_queries(1):
        videos = page.get("/api/clips/list").json()
    assert [v["_count"]["clips"] for v in videos] == [2] * 19 + [1]


def test_the_older_detail_is_the_bare_video_with_its_clips_best_first(
    page, web_user, django_assert_num_queries
):
    video = identified_video(web_user, ((154.623, 190), 9), ((10, 45.25), 10), ((300, 330), 2))
    page.get("/api/clips/list")  # signs in

    with django_assert_num_queries(2):  # the video, its clips
        answer = page.get(f"/api/clips/{video.pk}")

    assert answer.status_code == 200
    detail = answer.json()
    assert_fields(detail, OLDER_VIDEO_FIELDS)
    assert (detail["id"], detail["userId"], detail["totalClips"]) == (str(video.pk), "user_web", 3)
    # The page shows the first clip first: 10 > 9 > 2 as numbers.
    assert [c["viralityScore"] for c in detail["clips"]] == ["10", "9", "2"]
    assert [(c["start"], c["end"]) for c in detail["clips"]] == [
        ("10", "45.25"),
        ("154.623", "190"),
        ("300", "330"),
    ]
    for clip in detail["clips"]:
        assert_fields(clip, CLIP_FIELDS)
        assert clip["videoId"] == str(video.pk)


def test_the_older_detail_of_a_video_still_processing_has_no_clips_yet(page, web_user):
    video = video_submit(owner=web_user, youtube_url=URL, prompt="")

    detail = page.get(f"/api/clips/{video.pk}").json()

    assert (detail["totalClips"], detail["clips"]) == (None, [])


def test_the_older_detail_of_another_users_video_is_not_found(intruder_page, web_user):
    video = identified_video(web_user, ((1, 2), 5))

    answer = intruder_page.get(f"/api/clips/{video.pk}")

    assert answer.status_code == 404
    assert answer.json() == {"error": "No video with this id."}


@pytest.mark.parametrize("video_id", ["clr1x2y3z0000abcd", uuid.uuid4()])
def test_the_older_detail_of_an_unknown_id_is_not_found(page, video_id):
    answer = page.get(f"/api/clips/{video_id}")

    assert answer.status_code == 404
    assert list(answer.json()) == ["error"]
    assert "video" in answer.json()["error"].lower()


def test_the_older_list_is_empty_for_another_user(intruder_page, web_user):
    identified_video(web_user, ((1, 2), 5))

    assert intruder_page.get("/api/clips/list").json() == []


# --- DELETE /api/clips/videos/{id} ----------------------------------------------------------


def test_delete_removes_the_video_as_korais_own_delete_does(page, video):
    ExportedClipFactory(export=ExportFactory(video=video, owner=video.owner))

    answer = page.delete(f"/api/clips/videos/{video.pk}")

    assert answer.status_code == 200
    body = answer.json()
    assert body["success"] is True and isinstance(body["message"], str)
    assert not Video.objects.filter(pk=video.pk).exists()
    assert not Export.objects.filter(video_id=video.pk).exists()
    # The stored objects go afterwards, durably: a recorded clean-up and its event.
    assert VideoDeletion.objects.filter(pk=video.pk).exists()
    assert OutboxEvent.objects.filter(name="video/deleted", data__videoId=str(video.pk)).exists()
    assert page.get(f"/api/clips/videos/{video.pk}").status_code == 404


def test_delete_of_another_users_video_is_not_found_and_keeps_it(intruder_page, video):
    answer = intruder_page.delete(f"/api/clips/videos/{video.pk}")

    assert answer.status_code == 404
    assert isinstance(answer.json()["error"], str)
    assert Video.objects.filter(pk=video.pk).exists()


def test_a_cross_site_delete_with_the_cookie_is_refused(page, video):
    answer = page.delete(f"/api/clips/videos/{video.pk}", HTTP_ORIGIN="https://evil.test")

    assert answer.status_code == 403
    assert Video.objects.filter(pk=video.pk).exists()


# --- POST /api/clips/process -----------------------------------------------------------------


def process_body(video, clips, **overrides):
    """The body handleExportClips builds from the detail answer."""
    return {
        "videoId": str(video.pk),
        "s3Key": video.s3_key,
        "selectedClips": [{"start": c["start"], "end": c["end"]} for c in clips],
        "targetLanguage": None,
        "aspectRatio": "9:16",
        **overrides,
    }


def test_process_exports_the_selected_clips(page, video, fake_inngest):
    clips = page.get(f"/api/clips/videos/{video.pk}").json()["video"]["clips"]

    answer = page.post("/api/clips/process", process_body(video, clips[:2]))

    assert answer.status_code == 202, answer.content
    body = answer.json()
    assert body["success"] is True and isinstance(body["message"], str)
    export = Export.objects.get(pk=body["exportId"])
    assert [(r["start"], r["end"], r["clip_id"]) for r in export.selected_ranges] == [
        (10.0, 45.25, clips[0]["id"]),
        (154.623, 190.0, clips[1]["id"]),
    ]
    assert (export.aspect_ratio, export.target_language, export.owner_id) == (
        "9:16",
        None,
        video.owner_id,
    )
    assert OutboxEvent.objects.filter(name="clips/process", job_id=export.pk).exists()


def test_process_takes_unknown_ranges_as_custom_ranges(page, video, fake_inngest):
    body = process_body(video, [{"start": "20", "end": "50.5"}, {"start": 10, "end": 45.25}])

    answer = page.post("/api/clips/process", body)

    assert answer.status_code == 202, answer.content
    export = Export.objects.get(pk=answer.json()["exportId"])
    assert export.selected_ranges == [
        {"start": 20.0, "end": 50.5, "clip_id": None},
        {"start": 10.0, "end": 45.25, "clip_id": None},
    ]


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"s3Key": "youtube-videos/someone-else/yt"}, "s3Key: "),
        ({"aspectRatio": "4:3"}, "aspectRatio: "),
        ({"targetLanguage": "klingon"}, "targetLanguage: "),
        ({"selectedClips": []}, "selectedClips: "),
        ({"selectedClips": [{"start": "abc", "end": "10"}]}, "selectedClips: "),
        ({"selectedClips": [{"start": "50", "end": "10"}]}, "selectedClips: "),
        ({"videoId": None}, "videoId: "),
    ],
)
def test_process_refuses_bad_input_and_writes_nothing(page, video, overrides, message):
    clips = page.get(f"/api/clips/videos/{video.pk}").json()["video"]["clips"]

    answer = page.post("/api/clips/process", process_body(video, clips[:1], **overrides))

    assert answer.status_code == 400
    assert answer.json()["error"].startswith(message)
    assert not Export.objects.exists()
    assert not OutboxEvent.objects.filter(name="clips/process").exists()


@pytest.mark.parametrize(("sent", "stored"), [("es-ES", "es-ES"), ("od-in", "od-IN")])
def test_process_takes_the_pages_bcp47_languages(page, video, sent, stored):
    clips = page.get(f"/api/clips/videos/{video.pk}").json()["video"]["clips"]

    answer = page.post("/api/clips/process", process_body(video, clips[:1], targetLanguage=sent))

    assert answer.status_code == 202, answer.content
    assert Export.objects.get(pk=answer.json()["exportId"]).target_language == stored


def test_process_refuses_another_users_video(intruder_page, video):
    answer = intruder_page.post("/api/clips/process", process_body(video, []))

    assert answer.status_code == 404
    assert not Export.objects.exists()


def test_process_refuses_a_video_still_processing(page, web_user):
    video = VideoFactory(owner=web_user, status=Video.Status.PROCESSING)

    answer = page.post("/api/clips/process", process_body(video, [{"start": "1", "end": "2"}]))

    assert answer.status_code == 409
    assert "processing" in answer.json()["error"]


# --- GET /api/clips/videos/{id}/exported -----------------------------------------------------


def test_exported_clips_join_their_clips_by_start_and_end(page, video):
    clips = page.get(f"/api/clips/videos/{video.pk}").json()["video"]["clips"]
    export = ExportFactory(video=video, owner=video.owner, aspect_ratio="1:1")
    older = ExportedClipFactory(export=export, start=10.0, end=45.25, s3_key="exports/a/0.mp4")
    newer = ExportedClipFactory(export=export, start=154.623, end=190.0, s3_key="exports/a/1.mp4")
    ExportedClipFactory(export=export, start=300.0, end=330.0, s3_key="", error="Render failed")
    ExportedClip = type(older)
    ExportedClip.objects.filter(pk=newer.pk).update(created_at=timezone.now() + timedelta(1))

    answer = page.get(f"/api/clips/videos/{video.pk}/exported")

    assert answer.status_code == 200
    exported = answer.json()["exportedClips"]
    assert [e["id"] for e in exported] == [str(newer.pk), str(older.pk)]  # rendered, newest first
    for item in exported:
        assert_fields(item, EXPORTED_CLIP_FIELDS)
        assert item["aspectRatio"] == "1:1"
    # The page's join: clip.start === exportedClip.start && clip.end === exportedClip.end
    joined = [
        next(c["title"] for c in clips if (c["start"], c["end"]) == (e["start"], e["end"]))
        for e in exported
    ]
    assert joined == ["Nine", "Ten"]


# --- POST /api/clips/videos/{id}/download ----------------------------------------------------


def test_download_refuses_a_key_that_is_not_one_of_the_videos_clips(page, video, web_user):
    theirs = ExportedClipFactory(s3_key="exports/theirs/clip_0.mp4")  # another user's
    mine_elsewhere = ExportedClipFactory(
        export=ExportFactory(video=VideoFactory(owner=web_user, status="completed")),
        s3_key="exports/mine-elsewhere/clip_0.mp4",
    )
    for key in (theirs.s3_key, mine_elsewhere.s3_key, video.s3_key, "../../etc/passwd"):
        answer = page.post(f"/api/clips/videos/{video.pk}/download", {"s3Key": key})

        assert answer.status_code == 404, key
        assert isinstance(answer.json()["error"], str)


def test_download_needs_an_s3_key(page, video):
    answer = page.post(f"/api/clips/videos/{video.pk}/download", {})

    assert answer.status_code == 400
    assert answer.json()["error"].startswith("s3Key: ")


def test_download_of_another_users_video_is_not_found(intruder_page, video):
    clip = ExportedClipFactory(export=ExportFactory(video=video, owner=video.owner))

    answer = intruder_page.post(f"/api/clips/videos/{video.pk}/download", {"s3Key": clip.s3_key})

    assert answer.status_code == 404


def test_download_signs_one_of_the_videos_rendered_clips_for_an_hour(page, video, s3):
    clip = ExportedClipFactory(
        export=ExportFactory(video=video, owner=video.owner), s3_key="exports/e1/clip_0.mp4"
    )
    s3.put(clip.s3_key, b"rendered clip bytes")

    answer = page.post(f"/api/clips/videos/{video.pk}/download", {"s3Key": clip.s3_key})

    assert answer.status_code == 200
    url = answer.json()["url"]
    assert isinstance(url, str)
    query = parse_qs(urlsplit(url).query)
    assert query["X-Amz-Expires"] == ["3600"]
    fetched = requests.get(url, timeout=10)
    assert (fetched.status_code, fetched.content) == (200, b"rendered clip bytes")


def test_download_without_object_storage_is_a_503(page, video, settings):
    settings.AWS_S3_BUCKET_NAME = ""
    clip = ExportedClipFactory(export=ExportFactory(video=video, owner=video.owner))

    answer = page.post(f"/api/clips/videos/{video.pk}/download", {"s3Key": clip.s3_key})

    assert answer.status_code == 503
    assert "download URL" in answer.json()["error"]


# --- Authentication --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("get", "/api/clips/videos"),
        ("get", f"/api/clips/videos/{uuid.uuid4()}"),
        ("get", "/api/clips/list"),
        ("get", f"/api/clips/{uuid.uuid4()}"),
        ("post", "/api/clips/identify"),
        ("post", "/api/clips/process"),
    ],
)
def test_without_a_session_every_route_answers_401(clerk, db, method, path):
    page = Page("")
    page.client.cookies.clear()

    answer = page.get(path) if method == "get" else page.post(path, {})

    assert answer.status_code == 401
    assert isinstance(answer.json()["error"], str)


@pytest.mark.parametrize(
    "token_kwargs",
    [
        {"issued_ago": 3600},  # expired
        {"issuer": "https://someone-else.test"},
        {"azp": "https://evil.test"},
    ],
)
def test_a_bad_session_is_refused(clerk, web_user, token_kwargs):
    page = Page(clerk.session_token(web_user.clerk_id, **token_kwargs))

    answer = page.get("/api/clips/videos")

    assert answer.status_code == 401
    assert isinstance(answer.json()["error"], str)


def test_a_wrongly_signed_session_is_refused(clerk, web_user):
    from tests.fakes.clerk import new_key

    page = Page(clerk.session_token(web_user.clerk_id, key=new_key()))

    assert page.get("/api/clips/videos").status_code == 401


def test_a_cross_site_post_with_the_cookie_is_refused(page, web_user, fake_inngest):
    answer = page.post(
        "/api/clips/identify", {"youtubeUrl": URL, "prompt": ""}, HTTP_ORIGIN="https://evil.test"
    )

    assert answer.status_code == 403
    assert "CSRF" in answer.json()["error"]
    assert not Video.objects.exists()


def test_a_bearer_token_works_as_well(clerk, web_user, video):
    from django.test import Client

    token = clerk.session_token(web_user.clerk_id)
    answer = Client().get("/api/clips/videos", HTTP_AUTHORIZATION=f"Bearer {token}")

    assert [v["id"] for v in answer.json()["videos"]] == [str(video.pk)]


def test_a_new_clerk_user_starts_with_no_videos(clerk, db):
    VideoFactory(owner=UserFactory())
    page = Page(clerk.session_token("user_brand_new"))

    assert page.get("/api/clips/videos").json() == {"videos": []}
