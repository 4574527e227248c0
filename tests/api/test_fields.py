"""A list the API accepts is refused at its bound before any element is validated
(`api.fields.BoundedListField`), and so are too many subtitle settings: one short error."""

import json

import pytest

from tests.error_shape import assert_error_shape


def exports_url(video) -> str:
    return f"/api/videos/{video.pk}/exports/"


def post_raw(client, url: str, raw: bytes):
    return client.post(url, data=raw, content_type="application/json")


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
