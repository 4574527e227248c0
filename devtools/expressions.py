"""The few Inngest (CEL) expressions function configs use here: trigger filters and cancel rules
such as `event.data.videoId == async.data.videoId`, or the on_failure trigger
`event.data.function_id == 'korai-app-identify-clips'`.

Supported: clauses joined by `&&`, each `<operand> == <operand>` or `!=`, an operand being a
path under `event.` or `async.`, a quoted string, a number, `true`, `false` or `null`. Anything
else raises `UnsupportedExpression` when the config is read, so the development executor refuses
to start rather than match runs wrongly."""

from __future__ import annotations

import json
import re
from collections.abc import Callable

_CLAUSE = re.compile(r"^\s*(?P<left>.+?)\s*(?P<op>==|!=)\s*(?P<right>.+?)\s*$")
_PATH = re.compile(r"^(event|async)(\.[A-Za-z_][A-Za-z0-9_]*)+$")
_MISSING = object()

Scope = dict[str, dict]
Matcher = Callable[[Scope], bool]


class UnsupportedExpression(ValueError):
    pass


def compile_expression(text: str) -> Matcher:
    clauses = [_clause(part, text) for part in text.split("&&")]

    def matches(scope: Scope) -> bool:
        return all(clause(scope) for clause in clauses)

    return matches


def _clause(part: str, whole: str) -> Matcher:
    found = _CLAUSE.match(part)
    if not found:
        raise UnsupportedExpression(f"unsupported expression: {whole!r}")
    left, right = _operand(found["left"], whole), _operand(found["right"], whole)
    equal = found["op"] == "=="

    def clause(scope: Scope) -> bool:
        a, b = left(scope), right(scope)
        # A missing field matches nothing (Inngest's expression errors do not match either).
        if a is _MISSING or b is _MISSING:
            return False
        return (a == b) is equal

    return clause


def _operand(token: str, whole: str) -> Callable[[Scope], object]:
    if _PATH.match(token):
        root, *keys = token.split(".")
        return lambda scope: _lookup(scope.get(root), keys)
    if token[:1] == "'" and token[-1:] == "'" and len(token) >= 2:
        literal: object = token[1:-1]
    else:
        try:
            literal = json.loads(token)  # "text", 12, 1.5, true, false, null
        except ValueError:
            raise UnsupportedExpression(f"unsupported operand {token!r} in {whole!r}") from None
        if isinstance(literal, dict | list):
            raise UnsupportedExpression(f"unsupported operand {token!r} in {whole!r}")
    return lambda scope: literal


def _lookup(value: object, keys: list[str]) -> object:
    for key in keys:
        if not isinstance(value, dict) or key not in value:
            return _MISSING
        value = value[key]
    return value
