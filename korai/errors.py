"""One error shape for the whole API:

    {"error": {"code": "validation_error", "message": "...", "fields": {"field": ["..."]}}}

`fields` appears only for validation errors, with one list of messages per field."""

from rest_framework import exceptions, status
from rest_framework.views import exception_handler


def api_exception_handler(exc, context):
    response = exception_handler(exc, context)
    if response is None:
        return None  # an unexpected error: Django's 500 handling and logging take over

    if isinstance(exc, exceptions.ValidationError):
        detail = exc.detail if isinstance(exc.detail, dict) else {"non_field_errors": exc.detail}
        error = {
            "code": "validation_error",
            "message": "The request is not valid; see `fields`.",
            "fields": detail,
        }
    else:
        detail = getattr(exc, "detail", None)
        error = {
            "code": getattr(detail, "code", None) or _default_code(response.status_code),
            "message": str(detail) if detail is not None else str(exc),
        }
    response.data = {"error": error}
    return response


def _default_code(status_code: int) -> str:
    return {status.HTTP_404_NOT_FOUND: "not_found"}.get(status_code, "error")
