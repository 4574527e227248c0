"""The API's one JSON parser (REST_FRAMEWORK["DEFAULT_PARSER_CLASSES"]): DRF's, hardened.

DRF's parser turns only `ValueError` into a 400. Two kinds of hostile JSON got past it:
- nesting deep enough to make Python's decoder raise `RecursionError` (a 500);
- lone UTF-16 surrogates (`"\\ud800"`), which decode to a Python string that cannot be encoded
  again: the first error message that echoed one crashed the renderer.
Both are refused here with a 400, before any view sees the data, so nothing downstream (error
messages, the database, the renderer) meets them."""

from rest_framework import parsers
from rest_framework.exceptions import ParseError

# Korai's deepest legitimate body is {"clips": [{"start": ...}]}: depth 3.
MAX_DEPTH = 32
NOT_TEXT = "the body contains a lone surrogate (\\ud800-\\udfff), which is not text."


class JSONParser(parsers.JSONParser):
    def parse(self, stream, media_type=None, parser_context=None):
        try:
            data = super().parse(stream, media_type, parser_context)
        except RecursionError:
            raise ParseError("JSON parse error - the body is nested too deeply.") from None
        problem = json_value_problem(data)
        if problem:
            raise ParseError(f"JSON parse error - {problem}")
        return data


def json_value_problem(data, *, max_depth: int = MAX_DEPTH) -> str | None:
    """Why a decoded JSON value is unacceptable, or None: nested deeper than `max_depth`, or a
    string (value or key) that is not valid Unicode text. Iterative, so depth costs no stack."""
    pending = [(data, 1)]
    while pending:
        value, depth = pending.pop()
        if isinstance(value, str):
            if not _is_text(value):
                return NOT_TEXT
        elif isinstance(value, dict | list):
            if depth > max_depth:
                return f"the body is nested more than {max_depth} levels deep."
            items = value.items() if isinstance(value, dict) else ((None, v) for v in value)
            for key, item in items:
                if key is not None and not _is_text(key):
                    return NOT_TEXT
                pending.append((item, depth + 1))
    return None


def _is_text(value: str) -> bool:
    if value.isascii():
        return True
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True
