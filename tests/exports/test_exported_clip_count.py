"""The video's count of rendered clips, which the polling endpoint reads, follows the rows."""

import pytest

from exports.jobs import exported_clips_save
from tests.factories import ExportFactory, VideoFactory
from videos.models import Video

pytestmark = pytest.mark.django_db


def _export(video, ranges):
    return ExportFactory(
        video=video,
        selected_ranges=[{"start": s, "end": e, "clip_id": None} for s, e in ranges],
    )


def test_each_rendered_clip_is_counted_once_across_retries_and_exports():
    video = VideoFactory(processing_status=Video.Status.COMPLETED)
    first = _export(video, [(0, 10), (10, 20), (20, 30)])
    results = [
        {"start": 0, "end": 10, "s3_key": "a.mp4"},
        {"start": 10, "end": 20, "error": "render failed"},
        {"start": 20, "end": 30, "s3_key": "c.mp4"},
    ]

    exported_clips_save(export_id=str(first.pk), results=results, attempt=0)
    exported_clips_save(export_id=str(first.pk), results=results, attempt=1)  # a retried step
    video.refresh_from_db()
    assert video.exported_clip_count == 2

    # A rerun renders the clip that failed; a second export of the same video adds its own.
    exported_clips_save(
        export_id=str(first.pk), results=[{"start": 10, "end": 20, "s3_key": "b.mp4"}], attempt=0
    )
    second = _export(video, [(0, 10)])
    exported_clips_save(
        export_id=str(second.pk), results=[{"start": 0, "end": 10, "s3_key": "a2.mp4"}], attempt=0
    )
    video.refresh_from_db()
    assert video.exported_clip_count == 4
    assert video.exported_clip_count == video.exported_clips.exclude(s3_key="").count()
