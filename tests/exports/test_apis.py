import uuid

import pytest
import requests

from exports.models import Export
from outbox.models import OutboxEvent
from tests.factories import ClipFactory, ExportedClipFactory, ExportFactory, VideoFactory
from videos.models import Video


def exports_path(video) -> str:
    return f"/api/videos/{video.pk}/exports/"


def ordered_clip_ids(video) -> list[str]:
    return [str(pk) for pk in video.clips.order_by("-virality_score").values_list("pk", flat=True)]


# --- POST /api/videos/{id}/exports/ ----------------------------------------------------------


def test_export_of_clips_records_the_export_and_its_event(api_client, user, completed_video):
    clip_ids = ordered_clip_ids(completed_video)[:2]  # scores 9 (100-130 s), 6 (200-230 s)

    response = api_client.post(
        exports_path(completed_video),
        {"clip_ids": clip_ids, "aspect_ratio": "1:1", "target_language": "es-es"},
        format="json",
    )

    assert response.status_code == 202
    body = response.json()
    export = Export.objects.get()
    assert body["id"] == str(export.pk)
    assert body["status"] == "pending"
    assert body["video_id"] == str(completed_video.pk)
    assert body["aspect_ratio"] == "1:1"
    assert body["target_language"] == "es-ES"  # the tag as the processing API spells it
    assert body["subtitles"] is True
    assert body["subtitle_style"] == {}
    assert body["exported_clips"] == []
    assert body["error"] is None
    assert body["clips"] == [
        {"start": 100.0, "end": 130.0, "clip_id": clip_ids[0]},
        {"start": 200.0, "end": 230.0, "clip_id": clip_ids[1]},
    ]
    assert body["url"] == f"http://testserver/api/exports/{export.pk}/"
    assert response.headers["Location"] == body["url"]
    assert [r["clip_id"] for r in export.selected_ranges] == clip_ids

    event = OutboxEvent.objects.get()
    assert event.name == "clips/process"
    assert event.event_id == f"clips/process:{export.pk}:1"
    assert event.job == export
    assert event.data == {
        "exportId": str(export.pk),
        "videoId": str(completed_video.pk),
        "s3Key": completed_video.s3_key,
        "selectedClips": [{"start": 100.0, "end": 130.0}, {"start": 200.0, "end": 230.0}],
        "targetLanguage": "es-ES",
        "aspectRatio": "1:1",
        "userId": str(user.pk),
    }


def test_export_of_custom_ranges_with_a_subtitle_style(api_client, completed_video):
    style = {"position": "top", "font_color": "#FF0000", "font_size": 90, "karaoke_enabled": False}
    response = api_client.post(
        exports_path(completed_video),
        {
            "clips": [{"start": 10, "end": 70.5}, {"start": "500", "end": 600}],
            "aspect_ratio": "9:16",
            "target_language": None,
            "subtitles": False,
            "subtitle_style": style,
        },
        format="json",
    )

    assert response.status_code == 202, response.json()
    export = Export.objects.get()
    assert export.selected_ranges == [
        {"start": 10.0, "end": 70.5, "clip_id": None},
        {"start": 500.0, "end": 600.0, "clip_id": None},
    ]
    assert (export.subtitles, export.subtitle_style, export.target_language) == (False, style, None)
    assert all(r["clip_id"] is None for r in export.selected_ranges)
    data = OutboxEvent.objects.get().data
    assert data["selectedClips"] == [{"start": 10.0, "end": 70.5}, {"start": 500.0, "end": 600.0}]
    assert data["targetLanguage"] is None


@pytest.mark.parametrize("status", ["pending", "processing", "failed"])
def test_a_video_that_is_not_completed_cannot_be_exported(api_client, user, status):
    video = VideoFactory(owner=user, status=status)
    clip = ClipFactory(video=video)
    response = api_client.post(
        exports_path(video), {"clip_ids": [str(clip.pk)], "aspect_ratio": "9:16"}, format="json"
    )
    assert response.status_code == 409
    error = response.json()["error"]
    assert error["code"] == "video_not_ready"
    assert status in error["message"]
    assert not Export.objects.exists()
    assert not OutboxEvent.objects.exists()


TOO_MANY = [{"start": i, "end": i + 1} for i in range(21)]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"aspect_ratio": "9:16"}, "non_field_errors"),
        ({"clip_ids": [], "aspect_ratio": "9:16"}, "clip_ids"),
        ({"clips": [], "aspect_ratio": "9:16"}, "clips"),
        ({"clip_ids": ["not-a-uuid"], "aspect_ratio": "9:16"}, "clip_ids"),
        ({"clip_ids": [str(uuid.uuid4())], "aspect_ratio": "9:16"}, "clip_ids"),
        ({"clip_ids": "OWN", "aspect_ratio": "9:16"}, "clip_ids"),
        ({"clips": TOO_MANY, "aspect_ratio": "9:16"}, "clips"),
        ({"clips": [{"start": 30, "end": 30}], "aspect_ratio": "9:16"}, "clips"),
        ({"clips": [{"start": 40, "end": 30}], "aspect_ratio": "9:16"}, "clips"),
        ({"clips": [{"start": -1, "end": 30}], "aspect_ratio": "9:16"}, "clips"),
        ({"clips": [{"start": 0, "end": 181}], "aspect_ratio": "9:16"}, "clips"),
        ({"clips": [{"start": 590, "end": 601}], "aspect_ratio": "9:16"}, "clips"),
        ({"clips": [{"start": 0, "end": 10}] * 2, "aspect_ratio": "9:16"}, "clips"),
        ({"clips": [{"start": "a", "end": 10}], "aspect_ratio": "9:16"}, "clips"),
        ({"clips": [{"start": "nan", "end": 10}], "aspect_ratio": "9:16"}, "clips"),
        ({"clips": [{"start": 0}], "aspect_ratio": "9:16"}, "clips"),
        ({"clips": [[0, 10]], "aspect_ratio": "9:16"}, "clips"),
        ({"clips": [{"start": 0, "end": 10}]}, "aspect_ratio"),
        ({"clips": [{"start": 0, "end": 10}], "aspect_ratio": "4:3"}, "aspect_ratio"),
        (
            {"clips": [{"start": 0, "end": 10}], "aspect_ratio": "9:16", "target_language": "xx"},
            "target_language",
        ),
        (
            {"clips": [{"start": 0, "end": 10}], "aspect_ratio": "9:16", "target_language": "en"},
            "target_language",
        ),
        (
            {"clips": [{"start": 0, "end": 10}], "aspect_ratio": "9:16", "target_language": "eng"},
            "target_language",
        ),
        (
            {"clips": [{"start": 0, "end": 10}], "aspect_ratio": "9:16", "subtitles": "maybe"},
            "subtitles",
        ),
        (
            {"clips": [{"start": 0, "end": 10}], "aspect_ratio": "9:16", "subtitle_style": "big"},
            "subtitle_style",
        ),
    ],
)
def test_export_rejects_bad_input_and_writes_nothing(api_client, completed_video, body, field):
    if body.get("clip_ids") == "OWN":
        body = {**body, "clip_ids": ordered_clip_ids(completed_video) * 2}  # each one twice
    response = api_client.post(exports_path(completed_video), body, format="json")
    assert response.status_code == 400, response.json()
    error = response.json()["error"]
    assert error["code"] == "validation_error"
    assert list(error["fields"]) == [field]
    assert not Export.objects.exists()
    assert not OutboxEvent.objects.exists()


def test_clips_of_another_video_cannot_be_exported(api_client, user, completed_video):
    foreign = ClipFactory(video=VideoFactory(owner=user))
    response = api_client.post(
        exports_path(completed_video),
        {"clip_ids": [str(foreign.pk)], "aspect_ratio": "9:16"},
        format="json",
    )
    assert response.status_code == 400
    assert str(foreign.pk) in response.json()["error"]["fields"]["clip_ids"][0]


@pytest.mark.parametrize(
    ("style", "key"),
    [
        ({"colour": "#FFFFFF"}, "colour"),
        ({"font_color": "white"}, "font_color"),
        ({"font_color": "#GGGGGG"}, "font_color"),
        ({"karaoke_highlight_color": "#12345"}, "karaoke_highlight_color"),
        ({"background_color": 0}, "background_color"),
        ({"position": "left"}, "position"),
        ({"font_size": 4000}, "font_size"),
        ({"font_size": "120"}, "font_size"),
        ({"outline_width": -1}, "outline_width"),
        ({"background_opacity": 1.5}, "background_opacity"),
        ({"max_words_per_line": 2.5}, "max_words_per_line"),
        ({"max_words_per_line": True}, "max_words_per_line"),
        ({"font_size": 120.0}, "font_size"),
        ({"font_size": True}, "font_size"),
        ({"font_size": 10**400}, "font_size"),
        ({"margin_vertical": 180.5}, "margin_vertical"),
        ({"margin_horizontal": -1}, "margin_horizontal"),
        ({"enabled": "yes"}, "enabled"),
        ({"font_family": "Anton; rm -rf /"}, "font_family"),
        ({"karaoke_popup_scale": 10}, "karaoke_popup_scale"),
    ],
)
def test_each_subtitle_style_key_is_validated(api_client, completed_video, style, key):
    response = api_client.post(
        exports_path(completed_video),
        {"clips": [{"start": 0, "end": 10}], "aspect_ratio": "9:16", "subtitle_style": style},
        format="json",
    )
    assert response.status_code == 400
    fields = response.json()["error"]["fields"]
    assert list(fields["subtitle_style"]) == [key]
    assert fields["subtitle_style"][key][0]
    assert f"subtitle_style.{key}" in response.json()["error"]["message"]
    assert not Export.objects.exists()


WEB_CLIENT_LANGUAGES = [
    "es-ES", "ja-JP", "ko-KR", "en-US", "ru-RU", "nl-NL", "pl-PL", "hi-IN", "od-IN",
]  # fmt: skip


RANGE_BODY = {"clips": [{"start": 0, "end": 10}], "aspect_ratio": "9:16"}


@pytest.mark.parametrize("tag", WEB_CLIENT_LANGUAGES)
@pytest.mark.parametrize("spelling", [str, str.lower, str.upper])
def test_every_language_of_the_web_client_is_accepted_and_normalised(
    api_client, completed_video, tag, spelling
):
    response = api_client.post(
        exports_path(completed_video),
        {**RANGE_BODY, "target_language": spelling(tag)},
        format="json",
    )

    assert response.status_code == 202, response.json()
    assert response.json()["target_language"] == tag
    assert Export.objects.get().target_language == tag
    assert OutboxEvent.objects.get().data["targetLanguage"] == tag


@pytest.mark.parametrize(
    "value", ["es", "en-GB", "fr-FR", "or-IN", "es_ES", " es-ES", "", 7, ["es-ES"]]
)
def test_other_languages_are_refused_with_the_allowed_list(api_client, completed_video, value):
    response = api_client.post(
        exports_path(completed_video),
        {"clips": [{"start": 0, "end": 10}], "aspect_ratio": "9:16", "target_language": value},
        format="json",
    )

    assert response.status_code == 400
    (message,) = response.json()["error"]["fields"]["target_language"]
    if not isinstance(value, list):
        assert all(tag in message for tag in WEB_CLIENT_LANGUAGES), message
    assert not Export.objects.exists()


def test_the_allowed_languages_are_a_setting(api_client, completed_video, settings):
    settings.KORAI_TARGET_LANGUAGES = ["fr-FR", "es-ES"]
    path = exports_path(completed_video)
    body = {"clips": [{"start": 0, "end": 10}], "aspect_ratio": "9:16"}

    refused = api_client.post(path, {**body, "target_language": "ja-JP"}, format="json")
    accepted = api_client.post(path, {**body, "target_language": "FR-fr"}, format="json")

    assert refused.status_code == 400
    assert "fr-FR, es-ES" in refused.json()["error"]["fields"]["target_language"][0]
    assert (accepted.status_code, accepted.json()["target_language"]) == (202, "fr-FR")


@pytest.mark.parametrize("duration", [0.0, None])
def test_an_unknown_video_duration_does_not_bound_custom_ranges(
    api_client, completed_video, duration
):
    # The identify API answers video_duration 0 when it could not measure the video.
    completed_video.duration_seconds = duration
    completed_video.save(update_fields=["duration_seconds"])

    response = api_client.post(
        exports_path(completed_video),
        {"clips": [{"start": 900, "end": 960}], "aspect_ratio": "9:16"},
        format="json",
    )

    assert response.status_code == 202, response.json()
    assert Export.objects.get().selected_ranges == [{"start": 900.0, "end": 960.0, "clip_id": None}]


def test_a_valid_full_subtitle_style_is_accepted(api_client, completed_video):
    from exports.subtitles import DEFAULT_SUBTITLE_CUSTOMIZATION

    style = {**DEFAULT_SUBTITLE_CUSTOMIZATION, "background_color": "#123", "position": "bottom"}
    response = api_client.post(
        exports_path(completed_video),
        {"clips": [{"start": 0, "end": 10}], "aspect_ratio": "16:9", "subtitle_style": style},
        format="json",
    )
    assert response.status_code == 202, response.json()
    assert Export.objects.get().subtitle_style == style


# --- GET /api/videos/{id}/exports/ and /api/exports/{id}/ ------------------------------------


def test_a_videos_exports_newest_first_with_their_clips(api_client, completed_video, user):
    older = ExportFactory(video=completed_video)
    newer = ExportFactory(video=completed_video, status=Export.Status.COMPLETED)
    ExportedClipFactory(export=newer, start=0, end=30, s3_key="exports/a.mp4")
    ExportFactory(video=VideoFactory(owner=user, status=Video.Status.COMPLETED))

    response = api_client.get(exports_path(completed_video))

    assert response.status_code == 200
    body = response.json()
    assert body["count"] == 2
    assert [e["id"] for e in body["results"]] == [str(newer.pk), str(older.pk)]
    assert body["results"][0]["exported_clips"][0]["s3_key"] == "exports/a.mp4"


def test_export_list_makes_the_same_queries_for_1_and_50(api_client, completed_video):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    def queries() -> int:
        with CaptureQueriesContext(connection) as captured:
            assert (
                api_client.get(exports_path(completed_video) + "?page_size=50").status_code == 200
            )
        return len(captured)

    ExportedClipFactory(export=ExportFactory(video=completed_video))
    one = queries()
    for _ in range(49):
        ExportedClipFactory.create_batch(2, export=ExportFactory(video=completed_video))
    assert queries() == one == 4  # video, count, page, exported clips


def test_one_export_with_its_exported_clips_and_per_clip_errors(api_client, completed_video):
    export = ExportFactory(
        video=completed_video, status=Export.Status.PARTIAL, target_language="fr"
    )
    ExportedClipFactory(export=export, start=0, end=30, s3_key="exports/ok.mp4")
    ExportedClipFactory(export=export, start=100, end=130, s3_key="", error="Render timed out")

    response = api_client.get(f"/api/exports/{export.pk}/")

    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "partial"
    assert [(c["start"], c["end"], c["s3_key"], c["error"]) for c in body["exported_clips"]] == [
        (0.0, 30.0, "exports/ok.mp4", None),
        (100.0, 130.0, None, "Render timed out"),
    ]
    assert set(body["exported_clips"][0]) == {
        "id",
        "start",
        "end",
        "s3_key",
        "download_url",
        "aspect_ratio",
        "target_language",
        "source_clip_id",
        "error",
        "created_at",
    }
    # No object storage configured in this test: no links.
    assert body["exported_clips"][0]["download_url"] is None


def test_exported_clips_follow_the_order_of_the_exports_ranges(api_client, completed_video):
    ranges = [{"start": 500, "end": 600}, {"start": 10, "end": 70.5}, {"start": 200, "end": 230}]
    created = api_client.post(
        exports_path(completed_video), {"clips": ranges, "aspect_ratio": "9:16"}, format="json"
    )
    assert created.status_code == 202, created.json()
    export = Export.objects.get(pk=created.json()["id"])
    # Rendered in time order, as a render may store them.
    for n, r in sorted(enumerate(ranges), key=lambda item: item[1]["start"]):
        ExportedClipFactory(
            export=export, start=r["start"], end=r["end"], s3_key=export.clip_key(n)
        )

    body = api_client.get(f"/api/exports/{export.pk}/").json()
    listed = api_client.get(exports_path(completed_video)).json()["results"][0]

    expected = [(r["start"], r["end"]) for r in ranges]
    assert [(c["start"], c["end"]) for c in body["clips"]] == expected
    assert [(c["start"], c["end"]) for c in body["exported_clips"]] == expected
    assert [(c["start"], c["end"]) for c in listed["exported_clips"]] == expected


def test_exported_clips_carry_download_urls_that_fetch_their_objects(
    api_client, completed_video, s3
):
    export = ExportFactory(video=completed_video, status=Export.Status.PARTIAL)
    for n, start in enumerate((0, 100)):
        s3.put(f"exports/{export.pk}/clip_{n}.mp4", f"bytes of clip {n}".encode())
        ExportedClipFactory(
            export=export, start=start, end=start + 30, s3_key=f"exports/{export.pk}/clip_{n}.mp4"
        )
    ExportedClipFactory(export=export, start=200, end=230, s3_key="", error="Render timed out")

    clips = api_client.get(f"/api/exports/{export.pk}/").json()["exported_clips"]

    assert clips[2]["download_url"] is None  # it failed: nothing to download
    for n, clip in enumerate(clips[:2]):
        fetched = requests.get(clip["download_url"], timeout=5)
        assert (fetched.status_code, fetched.content) == (200, f"bytes of clip {n}".encode())
    listed = api_client.get(f"/api/videos/{completed_video.pk}/exports/").json()["results"]
    assert [c["download_url"] is not None for c in listed[0]["exported_clips"]] == [
        True,
        True,
        False,
    ]


def test_an_unknown_export_is_a_404(api_client):
    assert api_client.get(f"/api/exports/{uuid.uuid4()}/").status_code == 404


def test_one_export_is_two_queries(api_client, completed_video, django_assert_num_queries):
    export = ExportFactory(video=completed_video)
    ExportedClipFactory.create_batch(5, export=export)
    with django_assert_num_queries(2):
        assert api_client.get(f"/api/exports/{export.pk}/").status_code == 200
