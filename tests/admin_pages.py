"""The admin driven in tests: one row of each model it lists, a page's query count, an action's
messages."""

import uuid

from django.contrib.messages import get_messages
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from exports.models import Export
from outbox.models import OutboxEvent
from tests.factories import (
    ClipFactory,
    ExportedClipFactory,
    ExportFactory,
    UserFactory,
    VideoFactory,
)
from videos.models import Video, VideoDeletion

# Each factory call makes one row with its own owner/video/export, the worst case for N+1.
MAKERS = {
    "videos_video": lambda: VideoFactory(
        status=Video.Status.FAILED, last_error="boom", timeline=[{"step": "s"}]
    ),
    "exports_export": lambda: ExportFactory(status=Export.Status.FAILED, last_error="boom"),
    "clips_clip": lambda: ClipFactory(),
    "exports_exportedclip": lambda: ExportedClipFactory(),
    "outbox_outboxevent": lambda: OutboxEvent.objects.create(
        event_id=f"clips/process:{(e := ExportFactory()).pk}:1",
        name="clips/process",
        data={},
        job=e,
    ),
    "videos_videodeletion": lambda: VideoDeletion.objects.create(
        id=uuid.uuid4(),
        owner=UserFactory(),
        youtube_id="dQw4w9WgXcQ",
        prefixes=["youtube-videos/x/"],
        last_error="object storage: down",
    ),
}


def count_queries(client, url) -> int:
    with CaptureQueriesContext(connection) as queries:
        response = client.get(url)
    assert response.status_code == 200
    return len(queries)


def run_action(client, name, action, objects):
    response = client.post(
        reverse(f"admin:{name}_changelist"),
        {"action": action, "_selected_action": [str(obj.pk) for obj in objects]},
        follow=True,
    )
    assert response.status_code == 200
    return [str(message) for message in get_messages(response.wsgi_request)]
