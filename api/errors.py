"""One error shape for the whole API:

    {"error": {"code": "validation_error", "message": "...", "fields": {"field": ["..."]}}}

`fields` appears only for validation errors, with one list of messages per field (nested for
nested input, e.g. `{"subtitle_style": {"font_color": ["..."]}}`).

Services raise Django's `ValidationError` for bad input (a field inside an object named by its
path, `"subtitle_style.font_color"`, answered nested) and `ApplicationError` subclasses for
requests that are valid but cannot be done now; the handler turns both into this shape, so a
service never builds an HTTP response.

Answers that never reach a DRF view (an unknown path or malformed id, a method a plain Django
view refuses, an unexpected error, the database down) get the same shape from `json_error`,
through `api.middleware.ApiErrorMiddleware` and `server_error` (the project's handler500)."""

import functools
import logging
import sys

from django.conf import settings
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import InterfaceError, OperationalError
from django.http import HttpRequest, JsonResponse
from django.utils.module_loading import import_string
from django.views import defaults
from rest_framework import exceptions, serializers, status
from rest_framework.views import exception_handler

from core.exceptions import ApplicationError

logger = logging.getLogger(__name__)

API_PREFIX = "/api/"
# Seconds a client should wait before trying again while the database is unreachable.
DATABASE_RETRY_AFTER_SECONDS = 5
# What an OperationalError/InterfaceError means for a request: the database cannot be reached
# (down, restarting, out of connections), which is temporary, so 503 rather than 500.
DATABASE_UNAVAILABLE = (OperationalError, InterfaceError)

# `code` of an answer built outside DRF, by status; the same codes DRF's exceptions use.
ERROR_CODES = {
    400: "bad_request",
    401: "not_authenticated",
    403: "permission_denied",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    413: "request_too_large",
    415: "unsupported_media_type",
    429: "throttled",
    500: "server_error",
    503: "service_unavailable",
}


class _Conflict(exceptions.APIException):
    status_code = status.HTTP_409_CONFLICT
    default_code = "conflict"


def api_exception_handler(exc, context):
    if isinstance(exc, DjangoValidationError):
        exc = exceptions.ValidationError(detail=_nested(serializers.as_serializer_error(exc)))
    elif isinstance(exc, ApplicationError):
        conflict = _Conflict(detail=exc.message, code=exc.code)
        conflict.status_code = exc.status_code
        exc = conflict

    response = exception_handler(exc, context)
    if response is None:
        return None  # an unexpected error: Django's 500 handling and logging take over

    if isinstance(exc, exceptions.ValidationError):
        detail = exc.detail if isinstance(exc.detail, dict) else {"non_field_errors": exc.detail}
        error = {
            "code": "validation_error",
            "message": _validation_message(detail),
            "fields": detail,
        }
    else:
        detail = getattr(exc, "detail", None)
        if detail is None and isinstance(response.data, dict):
            # Django's Http404/PermissionDenied: DRF's handler put its message in the data.
            detail = response.data.get("detail")
        message = str(detail) if detail is not None else str(exc)
        if isinstance(exc, exceptions.UnsupportedMediaType):
            # A form post (curl -d, an HTML form) is the usual cause: say what to send instead.
            message = f"{message.rstrip('.')}: send application/json."
        error = {
            "code": getattr(detail, "code", None) or _default_code(response.status_code),
            "message": message,
        }
    response.data = {"error": error}
    return response


def _nested(fields: dict) -> dict:
    """`{"a.b": messages}` as `{"a": {"b": messages}}`, the shape a nested serializer gives:
    Django's ValidationError holds one level of fields only."""
    nested: dict = {}
    for path, messages in fields.items():
        *parents, leaf = path.split(".")
        node = nested
        for parent in parents:
            node = node.setdefault(parent, {})
        node[leaf] = messages
    return nested


def first_problem(fields: dict, *, name=str) -> tuple[str, str]:
    """The path (`name` applied to each key) and message of the first problem in a field error
    tree, nested dicts and lists followed down to their first message."""
    path, node = [], fields
    while not isinstance(node, str):
        if isinstance(node, dict) and node:
            key, node = next(iter(node.items()))
            if key != "non_field_errors":
                path.append(name(key))
        elif isinstance(node, list) and any(node):
            # A list of items' errors has an empty entry for each valid item.
            index, node = next((i, item) for i, item in enumerate(node) if item)
            if not isinstance(node, str):
                path.append(str(index))
        else:
            node = "invalid"
    return ".".join(path), node


def _validation_message(fields: dict) -> str:
    """A one-line summary naming the first problem, for clients that show only `message`."""
    where, problem = first_problem(fields)
    return f"The request is not valid: {where}: {problem}" if where else problem


def _default_code(status_code: int) -> str:
    return {
        status.HTTP_404_NOT_FOUND: "not_found",
        status.HTTP_409_CONFLICT: "conflict",
    }.get(status_code, "error")


def is_api_path(path: str) -> bool:
    return path.startswith(API_PREFIX)


def json_error(
    status_code: int,
    message: str,
    *,
    code: str | None = None,
    headers: dict | None = None,
    request: HttpRequest | None = None,
) -> JsonResponse:
    """An answer in the API's error shape, for code outside DRF's exception handler (the
    middleware, request limits, handler500, the Inngest endpoint's guard, /metrics). Under a
    path of settings.KORAI_API_ERROR_SHAPES the same error is rendered in that client's shape."""
    error = {"code": code or ERROR_CODES.get(status_code, "error"), "message": message}
    body = error_body_for(request.path_info if request else "", error)
    return JsonResponse(body, status=status_code, headers=headers)


def error_body_for(path: str, error: dict) -> dict:
    """`{"error": error}`, or the rendering of `error` that settings.KORAI_API_ERROR_SHAPES
    names for the longest prefix of `path` (a dotted path to a function of the error)."""
    shapes = settings.KORAI_API_ERROR_SHAPES
    prefix = max((p for p in shapes if path.startswith(p)), key=len, default=None)
    if prefix is None:
        return {"error": error}
    return _shape(shapes[prefix])(error)


@functools.cache
def _shape(dotted_path: str):
    return import_string(dotted_path)


def database_unavailable(request: HttpRequest | None = None) -> JsonResponse:
    return json_error(
        status.HTTP_503_SERVICE_UNAVAILABLE,
        "The database is unavailable. Try again in a few seconds.",
        headers={"Retry-After": str(DATABASE_RETRY_AFTER_SECONDS)},
        request=request,
    )


def server_error(request: HttpRequest, *args, **kwargs):
    """handler500: under /api/, JSON (503 when the cause is the database being unreachable,
    e.g. in a middleware that reads the session); elsewhere Django's page."""
    if not is_api_path(request.path_info):
        return defaults.server_error(request, *args, **kwargs)
    # Django calls this while handling the exception, so it is still the current one.
    if isinstance(sys.exc_info()[1], DATABASE_UNAVAILABLE):
        return database_unavailable(request)
    return json_error(
        status.HTTP_500_INTERNAL_SERVER_ERROR,
        "Internal server error. It was logged; try again later.",
        request=request,
    )


class ErrorBodySerializer(serializers.Serializer):
    code = serializers.CharField(help_text="Machine-readable, e.g. `validation_error`.")
    message = serializers.CharField(help_text="A sentence a person can read.")
    fields = serializers.DictField(
        required=False,
        help_text="Validation errors only: a list of messages per field (nested for objects).",
    )


class ErrorSerializer(serializers.Serializer):
    """The one error shape of the API (documentation only)."""

    error = ErrorBodySerializer()


def error_responses(*codes: int) -> dict:
    """`extend_schema(responses=...)` entries for the given error statuses."""
    return {code: ErrorSerializer for code in codes}
