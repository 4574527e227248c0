"""Errors as the web client reads them: `{"error": "<one sentence>"}` with the status code.

Korai's own handler (korai.errors) classifies the exception and picks the status; this only
flattens its answer to the client's shape, naming fields as the client sends them. An
unexpected error is logged and answered like the original did, so the client can still parse
the body."""

import logging

from rest_framework import status
from rest_framework.response import Response

from api.errors import api_exception_handler

logger = logging.getLogger("webclient")

# Korai's field names (in services' errors) → the client's.
CLIENT_FIELD_NAMES = {
    "youtube_url": "youtubeUrl",
    "aspect_ratio": "aspectRatio",
    "target_language": "targetLanguage",
    "clip_ids": "selectedClips",
    "clips": "selectedClips",
}


def webclient_exception_handler(exc, context):
    response = api_exception_handler(exc, context)
    if response is None:
        logger.error("Unhandled error in %s", context["request"].path, exc_info=exc)
        return Response(
            {"error": "Internal server error"}, status=status.HTTP_500_INTERNAL_SERVER_ERROR
        )
    error = response.data["error"]
    fields = error.get("fields")
    response.data = {"error": _first_problem(fields) if fields else error["message"]}
    return response


def _first_problem(fields: dict) -> str:
    """ "selectedClips: Clip 2: start must be at least 0 and before end." for the first field
    with an error, nested lists and objects followed down to their first message."""
    path, node = [], fields
    while not isinstance(node, str):
        if isinstance(node, dict) and node:
            key, node = next(iter(node.items()))
            if key != "non_field_errors":
                path.append(CLIENT_FIELD_NAMES.get(key, key))
        elif isinstance(node, list) and any(node):
            index, node = next((i, item) for i, item in enumerate(node) if item)
            if not isinstance(node, str):
                path.append(str(index))
        else:
            node = "The request is not valid."
    return f"{'.'.join(path)}: {node}" if path else node
