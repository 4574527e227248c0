"""Hostile JSON bodies (nested too deeply, huge integers, lone surrogates) get a clear 400 from
`api.parsers`, never a 500, and change nothing."""

import json

import pytest

from api.parsers import json_value_problem
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


def test_value_check_walks_keys_values_and_depth_without_recursion():
    assert json_value_problem({"a": ["b", {"c": 1.5}]}) is None
    assert "surrogate" in json_value_problem({"a": [{"\ud800": 1}]})
    deep = []
    for _ in range(100_000):
        deep = [deep]
    assert "nested" in json_value_problem(deep)
