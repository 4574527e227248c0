from datetime import timedelta

import pytest
from django.utils import timezone

from exports.models import Export
from outbox.services import event_record
from tests.factories import (
    ClipFactory,
    ExportedClipFactory,
    ExportFactory,
    UserFactory,
    VideoFactory,
)
from videos.models import Video


@pytest.fixture
def jobs(db, fake_inngest):
    """One of everything an operator looks at: a completed video with clips, a failed one with
    a timeline, a stuck one, a partial export with a failed clip, delivered and undelivered
    events."""
    now = timezone.now()
    owner = UserFactory(username="alice")
    completed = VideoFactory(
        owner=owner,
        status=Video.Status.COMPLETED,
        total_clips=2,
        duration_seconds=754.0,
        attempts=1,
        started_at=now - timedelta(minutes=5),
        finished_at=now - timedelta(minutes=2),
        inngest_run_id="01JRUNCOMPLETED",
        timeline=[
            {
                "step": "create-video-record",
                "at": (now - timedelta(minutes=5)).isoformat(),
                "attempt": 1,
                "detail": "video recorded",
            },
            {
                "step": "save-clips-to-database",
                "at": (now - timedelta(minutes=2)).isoformat(),
                "attempt": 1,
                "detail": "2 clips",
            },
        ],
    )
    clips = [ClipFactory(video=completed), ClipFactory(video=completed)]
    failed = VideoFactory(
        owner=owner,
        status=Video.Status.FAILED,
        attempts=3,
        started_at=now - timedelta(minutes=20),
        finished_at=now - timedelta(minutes=10),
        inngest_run_id="01JRUNFAILED",
        last_error="Clips API answered 422: the video is private\nTraceback line 2",
        timeline=[
            {
                "step": "call-identify-clips-api",
                "at": now.isoformat(),
                "attempt": 3,
                "detail": "422 from the clips API",
            }
        ],
    )
    event_record(name="video/identify.clips", data={"videoId": str(failed.pk)}, job=failed)
    stuck = VideoFactory(owner=owner, status=Video.Status.PROCESSING)
    Video.objects.filter(pk=stuck.pk).update(updated_at=now - timedelta(hours=2))
    export = ExportFactory(
        video=completed,
        status=Export.Status.PARTIAL,
        last_error="1 of 2 clips failed",
        selected_ranges=[{"start": c.start, "end": c.end, "clip_id": str(c.pk)} for c in clips],
    )
    ExportedClipFactory(export=export, start=clips[0].start, end=clips[0].end)
    ExportedClipFactory(
        export=export, start=clips[1].start, end=clips[1].end, s3_key="", error="GPU out of memory"
    )
    fake_inngest.down()
    lost = event_record(name="clips/process", data={"exportId": str(export.pk)}, job=export)
    return {
        "owner": owner,
        "completed": completed,
        "failed": failed,
        "stuck": stuck,
        "export": export,
        "clips": clips,
        "lost_event": lost,
    }
