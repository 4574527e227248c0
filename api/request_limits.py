"""Request body size limits per path, in one place: settings.KORAI_MAX_BODY_BYTES maps a path
prefix to the largest body (in bytes, or the name of the setting holding it) accepted there;
the longest matching prefix wins.

A body over its path's limit is refused with a JSON 413 in the API's error shape before
anything reads it. Django's own DATA_UPLOAD_MAX_MEMORY_SIZE (2.5 MB) stays as a second check
on the paths that parse forms; when it fires (`RequestDataTooBig`) the answer is the same 413.
`/api/inngest` reads its larger bodies itself (inngest_endpoint.guard)."""

from django.conf import settings
from django.core.exceptions import RequestDataTooBig
from django.http import HttpRequest, JsonResponse

from api.errors import json_error


def body_limit(path: str) -> int:
    limits = settings.KORAI_MAX_BODY_BYTES
    prefix = max((p for p in limits if path.startswith(p)), key=len, default="")
    limit = limits.get(prefix, settings.DATA_UPLOAD_MAX_MEMORY_SIZE)
    # A setting's name: read when asked, so the setting stays the one place for that value.
    return getattr(settings, limit) if isinstance(limit, str) else limit


def too_large(limit: int, request: HttpRequest) -> JsonResponse:
    return json_error(
        413,
        f"The request body is larger than {limit} bytes, the limit here.",
        code="request_too_large",
        request=request,
    )


class RequestSizeLimitMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest):
        limit = body_limit(request.path_info)
        try:
            length = int(request.META.get("CONTENT_LENGTH") or 0)
        except ValueError:
            length = 0  # Django reads no body at all for an unreadable Content-Length
        if length > limit:
            return too_large(limit, request)
        return self.get_response(request)

    def process_exception(self, request: HttpRequest, exception: Exception):
        if isinstance(exception, RequestDataTooBig):
            return too_large(body_limit(request.path_info), request)
        return None
