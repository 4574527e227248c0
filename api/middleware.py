"""What every `/api/` request goes through before and after the URLconf: its path works with or
without the trailing slash, every answer is JSON in the API's error shape (api.errors), and an
authenticated answer is never stored by a shared cache."""

import logging

from django.urls import is_valid_path
from django.utils.cache import patch_cache_control, patch_vary_headers
from rest_framework import status

from api.authentication import CREDENTIALS_HEADER
from api.errors import (
    DATABASE_UNAVAILABLE,
    database_unavailable,
    is_api_path,
    json_error,
)

logger = logging.getLogger(__name__)

# Headers of an error answer that a client needs; kept when the body is rewritten as JSON.
_KEPT_HEADERS = ("Allow", "Retry-After", "WWW-Authenticate")


class PrivateAnswerMiddleware:
    """An answer to a request that an authentication class authenticated (api.authentication
    notes the header its credentials came from) is the user's own: `Cache-Control: private,
    no-store`, and `Vary` on that header (`Cookie` or `Authorization`), so no cache in front
    serves it to anyone else. Placed before ApiErrorMiddleware, so that the answers it rewrites
    carry these headers too."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        header = getattr(request, CREDENTIALS_HEADER, None)
        if header is not None:
            patch_cache_control(response, private=True, no_store=True)
            patch_vary_headers(response, [header])
        return response


class ApiPathMiddleware:
    """`/api/videos` is `/api/videos/` (and `/api/inngest/` is `/api/inngest`): a path that does
    not resolve as written is served by its twin with or without the trailing slash, when that
    one resolves. Internally, not by a redirect: a client following a 301 turns a POST into a
    GET and drops its body, and Django's APPEND_SLASH answers such a POST with a 500 in DEBUG.
    Placed before CommonMiddleware, which then finds nothing to redirect."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        path = request.path_info
        if is_api_path(path):
            urlconf = getattr(request, "urlconf", None)
            if not is_valid_path(path, urlconf):
                twin = path[:-1] if path.endswith("/") else f"{path}/"
                if is_valid_path(twin, urlconf):
                    request.path = request.path[: len(request.path) - len(path)] + twin
                    request.path_info = twin
        return self.get_response(request)


class ApiErrorMiddleware:
    """Every `/api/` answer is JSON: an error answer built outside DRF (Django's 404 for an
    unknown path or a malformed id, a plain view's 405, a 500 page, a 400 for a malformed
    request) is rewritten in the API's error shape, and an unreachable database is a 503 with
    Retry-After instead of a 500. Placed first (after SecurityMiddleware), so it sees the
    answers of every middleware below it."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        if (
            is_api_path(request.path_info)
            and response.status_code >= 400
            and "json" not in response.get("Content-Type", "")
        ):
            return _as_json_error(request, response)
        return response

    def process_exception(self, request, exception):
        if is_api_path(request.path_info) and isinstance(exception, DATABASE_UNAVAILABLE):
            logger.error(
                "Database unavailable: %s %s answered 503",
                request.method,
                request.path,
                exc_info=exception,
            )
            return database_unavailable(request)
        return None  # Django logs it and calls handler500 (api.errors.server_error)


def _as_json_error(request, response):
    code = response.status_code
    if code == status.HTTP_404_NOT_FOUND:
        message = (
            f"Not found: {request.path}. No API endpoint has this path, or an id in it is not "
            "a valid UUID."
        )
    elif code == status.HTTP_405_METHOD_NOT_ALLOWED:
        message = f"Method {request.method} is not allowed here."
    elif code >= status.HTTP_500_INTERNAL_SERVER_ERROR:
        message = "Internal server error. It was logged; try again later."
    else:
        message = response.reason_phrase
    headers = {name: response[name] for name in _KEPT_HEADERS if response.has_header(name)}
    return json_error(code, message, headers=headers, request=request)
