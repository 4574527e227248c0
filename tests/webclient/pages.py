"""The original web client's pages as the tests see them: every field they read, with its type,
and a browser that sends requests as they do."""

import json

from django.test import Client

from tests.fakes.clerk import APP_ORIGIN

NoneType = type(None)

# Every field the pages read (src/app/dashboard/clips/**), with the type they expect.
VIDEO_FIELDS = {
    "id": str,
    "youtubeUrl": str,
    "s3Key": str,
    "prompt": (str, NoneType),
    "totalClips": int,
    "videoDuration": (str, NoneType),
    "detectedLanguage": (str, NoneType),
    "s3Path": (str, NoneType),
    "createdAt": str,
    "processingStatus": str,
    "error": (str, NoneType),
}
# The older pages (src/app/dashboard/clips/list, [videoId]) read the original's bare rows.
OLDER_VIDEO_FIELDS = {
    **VIDEO_FIELDS,
    "userId": str,
    "totalClips": (int, NoneType),  # null: the list page shows "Processing"
    "updatedAt": str,
}
CLIP_FIELDS = {
    "id": str,
    "start": str,
    "end": str,
    "title": str,
    "summary": str,
    "viralityScore": str,
    "relatedTopics": list,
    "transcript": str,
    "createdAt": str,
}
EXPORTED_CLIP_FIELDS = {
    "id": str,
    "start": str,
    "end": str,
    "s3Key": str,
    "aspectRatio": str,
    "targetLanguage": (str, NoneType),
    "createdAt": str,
}


def assert_fields(item: dict, fields: dict) -> None:
    for name, kind in fields.items():
        assert name in item, f"missing {name}"
        assert isinstance(item[name], kind), f"{name} is {type(item[name]).__name__}"
        if kind is int:
            assert not isinstance(item[name], bool), name


class Page:
    """Sends a request exactly as the client's pages do, through the Next.js rewrite: the Clerk
    `__session` cookie rides along; `fetch` with a JSON body and `Content-Type:
    application/json` for POST; DELETE without a body; the browser adds `Origin` to writes."""

    def __init__(self, token: str) -> None:
        self.client = Client()
        self.client.cookies["__session"] = token

    def get(self, path: str):
        return self.client.get(path)

    def post(self, path: str, body: dict, **headers):
        return self.client.post(
            path,
            data=json.dumps(body),
            content_type="application/json",
            **{"HTTP_ORIGIN": APP_ORIGIN, **headers},
        )

    def delete(self, path: str, **headers):
        return self.client.delete(path, **{"HTTP_ORIGIN": APP_ORIGIN, **headers})
