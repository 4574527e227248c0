"""Errors as the web client reads them: `{"error": "<one sentence>"}` with the status code.

Korai's own handler (api.errors) classifies the exception and picks the status; this only
flattens its answer to the client's shape, naming fields as the client sends them. An
unreachable database is left to api.middleware, which answers 503 with Retry-After (in this
shape, through settings.KORAI_API_ERROR_SHAPES). Any other unexpected error is logged and
answered like the original did, so the client can still parse the body."""

import logging

from rest_framework import status
from rest_framework.response import Response

from api.errors import DATABASE_UNAVAILABLE, api_exception_handler, first_problem

logger = logging.getLogger("webclient")

# Korai's field names (in services' errors) → the client's.
CLIENT_FIELD_NAMES = {
    "youtube_url": "youtubeUrl",
    "aspect_ratio": "aspectRatio",
    "target_language": "targetLanguage",
    "clip_ids": "selectedClips",
    "clips": "selectedClips",
}


def client_error_body(error: dict) -> dict:
    """Korai's error (`{"code", "message", "fields"?}`) as the client reads it: one sentence,
    naming the first wrong field as the client sends it. Also rendered for the answers built
    outside DRF (settings.KORAI_API_ERROR_SHAPES)."""
    fields = error.get("fields")
    if not fields:
        return {"error": error["message"]}
    where, problem = first_problem(fields, name=lambda key: CLIENT_FIELD_NAMES.get(key, key))
    return {"error": f"{where}: {problem}" if where else problem}


def webclient_exception_handler(exc, context):
    response = api_exception_handler(exc, context)
    if response is None and isinstance(exc, DATABASE_UNAVAILABLE):
        return None  # DRF raises it again, and api.middleware answers 503
    if response is None:
        logger.error("Unhandled error in %s", context["request"].path, exc_info=exc)
        return Response(
            {"error": "Internal server error"}, status=status.HTTP_500_INTERNAL_SERVER_ERROR
        )
    response.data = client_error_body(response.data["error"])
    return response
