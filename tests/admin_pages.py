"""The admin driven in tests: one row of each model it lists, a page's query count, an action's
messages."""

from django.contrib.messages import get_messages
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from exports.models import Export
from tests.factories import (
    ClipFactory,
    ExportedClipFactory,
    ExportFactory,
    OutboxEventFactory,
    VideoDeletionFactory,
    VideoFactory,
)
from videos.models import Video

# Each factory call makes one row with its own owner/video/export, the worst case for N+1.
MAKERS = {
    "videos_video": lambda: VideoFactory(
        status=Video.Status.FAILED, last_error="boom", timeline=[{"step": "s"}]
    ),
    "exports_export": lambda: ExportFactory(status=Export.Status.FAILED, last_error="boom"),
    "clips_clip": lambda: ClipFactory(),
    "exports_exportedclip": lambda: ExportedClipFactory(),
    "outbox_outboxevent": lambda: OutboxEventFactory(job=ExportFactory()),
    "videos_videodeletion": lambda: VideoDeletionFactory(last_error="object storage: down"),
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


def field_text(html: str, field: str) -> str:
    """What a change page shows in a read-only field."""
    row = html[html.index(f"field-{field}") :]
    row = row[row.index('<div class="readonly">') + len('<div class="readonly">') :]
    return row[: row.index("</div>")]
