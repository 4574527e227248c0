"""Saving an identification answer at size: a thousand clips and more, stale ones removed, in
a handful of queries."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from integrations.clips_api import parse_identify_response
from tests.factories import VideoFactory
from videos.models import Video
from videos.services import video_complete

pytestmark = pytest.mark.django_db


def _identified(video, starts):
    return parse_identify_response(
        {
            "total_clips": len(starts),
            "video_duration": 100_000.0,
            "detected_language": "en",
            "s3_path": f"s3://bucket/{video.s3_key}",
            "identified_clips": [
                {
                    "start": start,
                    "end": start + 30,
                    "title": f"Moment {start:g}",
                    "summary": "Why it works.",
                    "virality_score": 5,
                    "related_topics": [],
                    "transcript": "Words.",
                }
                for start in starts
            ],
        }
    )


def test_fifteen_hundred_clips_then_a_different_answer_leaves_exactly_the_new_set():
    video = VideoFactory(status=Video.Status.PROCESSING)
    video_complete(
        video_id=str(video.pk), identified=_identified(video, range(0, 60_000, 40)), attempt=0
    )
    assert video.clips.count() == 1500

    second = [float(s) for s in range(20_000, 80_000, 40)]  # half overlap, half new
    video_complete(video_id=str(video.pk), identified=_identified(video, second), attempt=1)

    assert sorted(video.clips.values_list("start", flat=True)) == second


@pytest.mark.skipif(
    connection.vendor != "postgresql",
    reason="SQLite splits a bulk insert into parameter-sized batches",
)
def test_saving_a_thousand_clips_takes_at_most_five_queries():
    video = VideoFactory(status=Video.Status.PROCESSING)
    identified = _identified(video, range(0, 40_000, 40))
    for attempt in (0, 1):  # the first save and a retried step
        with CaptureQueriesContext(connection) as queries:
            video_complete(video_id=str(video.pk), identified=identified, attempt=attempt)
        statements = [
            q
            for q in queries
            if not q["sql"].startswith(("BEGIN", "COMMIT", "SAVEPOINT", "RELEASE"))
        ]
        assert len(statements) <= 5, [q["sql"][:80] for q in statements]
    assert video.clips.count() == 1000
