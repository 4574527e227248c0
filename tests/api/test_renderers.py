"""`api.renderers`: text that UTF-8 cannot encode is written as a replacement character, and an
unknown `format` is a 404 with a message."""

import json

from api.renderers import JSONRenderer
from tests.error_shape import assert_error_shape


def test_renderer_writes_unencodable_text_as_a_replacement_character():
    rendered = JSONRenderer().render({"error": {"message": "bad \ud800", "fields": {"\udfff": []}}})
    assert json.loads(rendered.decode("utf-8")) == {
        "error": {"message": "bad \ufffd", "fields": {"\ufffd": []}}
    }


def test_an_unknown_format_is_a_404_with_a_message(api_client):
    error = assert_error_shape(api_client.get("/api/videos/?format=x"), 404, "not_found")
    assert error["message"] == "Not found."
