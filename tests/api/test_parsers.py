"""D1-D3 and D5 of issue 15: hostile JSON bodies get a clear 400 (or 413), never a 500, and
change nothing."""

import json

import pytest

from api.parsers import json_value_problem
from api.renderers import JSONRenderer
from exports.models import Export
from tests.error_shape import assert_error_shape
from videos.models import Video

NESTED = ("[" * 1000 + "]" * 1000).encode()


def exports_url(video) -> str:
    return f"/api/videos/{video.pk}/exports/"


def post_raw(client, url: str, raw: bytes):
    return client.post(url, data=raw, content_type="application/json")


# --- D1: nesting -------------------------------------------------------------------------------


@pytest.mark.parametrize("where", ["videos", "exports"])
def test_deeply_nested_json_is_a_400(api_client, completed_video, where):
    url = "/api/videos/" if where == "videos" else exports_url(completed_video)

    response = post_raw(api_client, url, NESTED)

    error = assert_error_shape(response, 400, "parse_error")
    assert "nested too deeply" in error["message"]
    assert Video.objects.count() == 1 and Export.objects.count() == 0


def test_nesting_beyond_the_depth_limit_is_a_400_even_when_python_could_parse_it(
    api_client, completed_video
):
    body = {"aspect_ratio": "1:1", "clips": [{"start": 1, "end": 2}], "x": [[[[[[[[[[]]]]]]]]]]}
    for _ in range(40):
        body = {"nested": body}
    response = post_raw(api_client, exports_url(completed_video), json.dumps(body).encode())
    error = assert_error_shape(response, 400, "parse_error")
    assert "nested more than 32 levels" in error["message"]


# --- D2: huge integers ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "body",
    [
        {"clips": [{"start": 1, "end": 2}], "subtitle_style": {"font_size": 10**400}},
        {"clips": [{"start": 1, "end": 2}], "subtitle_style": {"max_words_per_line": 10**400}},
        {"clips": [{"start": 10**400, "end": 10**401}]},
    ],
)
def test_a_401_digit_integer_is_a_400(api_client, completed_video, body):
    raw = json.dumps({"aspect_ratio": "1:1", **body}).encode()
    response = post_raw(api_client, exports_url(completed_video), raw)
    assert_error_shape(response, 400, "validation_error")
    assert Export.objects.count() == 0


def test_export_service_refuses_huge_integers_it_is_called_with(completed_video, user):
    from django.core.exceptions import ValidationError

    from exports.services import export_create

    with pytest.raises(ValidationError) as raised:
        export_create(
            video=completed_video,
            owner=user,
            aspect_ratio="1:1",
            clips=[{"start": 10**400, "end": 10**401}],
            subtitle_style={"font_size": 10**400},
        )
    assert set(raised.value.message_dict) == {"subtitle_style.font_size", "clips"}


# --- D3: lone surrogates -----------------------------------------------------------------------


@pytest.mark.parametrize(
    "raw",
    [
        b'{"aspect_ratio": "\\ud800", "clips": [{"start": 1, "end": 2}]}',
        b'{"aspect_ratio": "1:1", "clips": [{"start": 1, "end": 2}], '
        b'"subtitle_style": {"\\ud800": 1}}',
        b'{"aspect_ratio": "1:1", "clip_ids": ["\\udfff"]}',
    ],
)
def test_a_lone_surrogate_anywhere_in_an_export_is_a_400(api_client, completed_video, raw):
    response = post_raw(api_client, exports_url(completed_video), raw)
    error = assert_error_shape(response, 400, "parse_error")
    assert "surrogate" in error["message"]
    response.content.decode("utf-8")  # the answer itself is valid UTF-8


def test_a_lone_surrogate_in_a_video_submission_is_a_400(api_client):
    raw = b'{"youtube_url": "https://youtu.be/dQw4w9WgXcQ", "prompt": "a\\ud83dz"}'
    assert_error_shape(post_raw(api_client, "/api/videos/", raw), 400, "parse_error")
    assert Video.objects.count() == 0


def test_a_valid_surrogate_pair_is_text(api_client):
    raw = b'{"youtube_url": "https://youtu.be/dQw4w9WgXcQ", "prompt": "\\ud83d\\ude00"}'
    response = post_raw(api_client, "/api/videos/", raw)
    assert response.status_code == 202
    assert Video.objects.get().prompt == "\U0001f600"


def test_renderer_writes_unencodable_text_as_a_replacement_character():
    rendered = JSONRenderer().render({"error": {"message": "bad \ud800", "fields": {"\udfff": []}}})
    assert json.loads(rendered.decode("utf-8")) == {
        "error": {"message": "bad \ufffd", "fields": {"\ufffd": []}}
    }


def test_value_check_walks_keys_values_and_depth_without_recursion():
    assert json_value_problem({"a": ["b", {"c": 1.5}]}) is None
    assert "surrogate" in json_value_problem({"a": [{"\ud800": 1}]})
    deep = []
    for _ in range(100_000):
        deep = [deep]
    assert "nested" in json_value_problem(deep)


# --- D5: list lengths before elements, and body sizes --------------------------------------------


@pytest.mark.parametrize(
    ("field", "item"), [("clip_ids", "x"), ("clips", {}), ("clips", {"start": "a", "end": 1})]
)
def test_a_long_list_is_refused_before_any_element_is_validated(
    api_client, completed_video, field, item
):
    raw = json.dumps({"aspect_ratio": "1:1", field: [item] * 2000}).encode()
    assert len(raw) < 64 * 1024

    response = post_raw(api_client, exports_url(completed_video), raw)

    error = assert_error_shape(response, 400, "validation_error")
    # One message for the whole list, not one per element.
    assert error["fields"] == {field: ["Ensure this field has no more than 20 elements."]}
    assert len(response.content) < 500


def test_too_many_subtitle_settings_are_one_error(api_client, completed_video):
    style = {f"key{i}": i for i in range(3000)}
    raw = json.dumps(
        {"aspect_ratio": "1:1", "clips": [{"start": 1, "end": 2}], "subtitle_style": style}
    ).encode()
    response = post_raw(api_client, exports_url(completed_video), raw)
    error = assert_error_shape(response, 400, "validation_error")
    assert error["fields"] == {
        "subtitle_style": {"non_field_errors": ["At most 20 subtitle settings."]}
    }


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


def test_an_unknown_format_is_a_404_with_a_message(api_client):
    error = assert_error_shape(api_client.get("/api/videos/?format=x"), 404, "not_found")
    assert error["message"] == "Not found."
