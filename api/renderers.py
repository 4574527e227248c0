"""The API's JSON renderer: DRF's, except that it never fails on text it cannot encode.

A Python string can hold lone surrogates (from a JSON `"\\ud800"` escape, say), which UTF-8
cannot encode; DRF's renderer then raises and the answer becomes a 500. The parser refuses such
input (api.parsers), so this is the second line: whatever slips through is written with U+FFFD
in place of the unencodable characters instead of crashing the answer."""

import re

from rest_framework import renderers

_SURROGATE = re.compile("[\ud800-\udfff]")


class JSONRenderer(renderers.JSONRenderer):
    def render(self, data, accepted_media_type=None, renderer_context=None):
        try:
            return super().render(data, accepted_media_type, renderer_context)
        except UnicodeEncodeError:
            return super().render(_encodable(data), accepted_media_type, renderer_context)


def _encodable(value):
    if isinstance(value, str):
        return _SURROGATE.sub("\ufffd", value)
    if isinstance(value, dict):
        return {_encodable(k): _encodable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_encodable(item) for item in value]
    return value
