"""The video's count of rendered clips, which the polling endpoint reads, follows the rows."""

import pytest

from exports.models import Export
from exports.rendering import export_copy_rendered, export_render
from tests.factories import ExportFactory, VideoFactory
from videos.models import Video

pytestmark = pytest.mark.django_db

# Read by the fake_clips_api fixture: a render call writes each output to the local S3 server
# before it answers, which on a loaded machine can outlast the default 0.5 s (then retried).
CLIPS_API_READ_TIMEOUT_SECONDS = 10.0


def _export(video, ranges):
    return ExportFactory(
        video=video,
        selected_ranges=[{"start": s, "end": e, "clip_id": None} for s, e in ranges],
        status=Export.Status.PROCESSING,  # as its run's create step leaves it
        inngest_run_id="run-1",
    )


def _render(export, attempt=0):
    """The render step, then the copy step, as one run does them: what each counted."""
    rendered = export_render(
        export_id=str(export.pk), run_id="run-1", step="call-process-clips-api", attempt=attempt
    )
    if rendered["requested"]:
        export_copy_rendered(
            export_id=str(export.pk),
            run_id="run-1",
            outputs=rendered["outputs"],
            tried=0,
            step="copy-rendered-clips",
            attempt=attempt,
        )
    return {key: rendered[key] for key in ("requested", "rendered", "failed")}


def test_each_rendered_clip_is_counted_once_across_retries_and_exports(fake_clips_api):
    video = VideoFactory(status=Video.Status.COMPLETED)
    first = _export(video, [(0, 10), (10, 20), (20, 30)])
    fake_clips_api.omit(10, 20, times=1)

    assert _render(first) == {"requested": 3, "rendered": 2, "failed": 1}
    assert _render(first, attempt=1) == {"requested": 1, "rendered": 1, "failed": 0}
    assert _render(first, attempt=2) == {"requested": 0, "rendered": 0, "failed": 0}
    video.refresh_from_db()
    assert video.exported_clip_count == 3

    # A second export of the same video adds its own.
    _render(_export(video, [(0, 10)]))
    video.refresh_from_db()
    assert video.exported_clip_count == 4
    assert video.exported_clip_count == video.exported_clips.exclude(s3_key="").count()
