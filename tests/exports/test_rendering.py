"""The services of the render steps (`exports/rendering.py`) and how a failed run ends
(`export_failed_status`): idempotent, transactional, and careful about which run wins."""

from datetime import timedelta

import pytest
from django.utils import timezone

from exports.models import Export
from exports.rendering import (
    export_copy_rendered,
    export_finish,
    export_render,
    export_render_failed,
)
from exports.selectors import exports_stuck
from exports.services import export_failed_status
from jobs.records import job_fail
from tests.factories import ExportedClipFactory, ExportFactory

# Read by the fake_clips_api fixture: a render call writes each output to the local S3 server
# before it answers, which on a loaded machine can outlast the default 0.5 s (then retried).
CLIPS_API_READ_TIMEOUT_SECONDS = 10.0

# Read the export with its video, this run's answered lease (none) and its rendered ranges;
# take the video's render lease (a savepoint: lock it or, the first time, insert it in a
# savepoint of its own); look for a call of this run in flight (none: POST); once the API
# answered, forget any kept result URL, check the export is still this run's (not cancelled) and
# keep the lease, with the outputs, for the copies.
QUERIES_PER_RENDER = 13
# Read the export with its video; renew the lease; then, in one transaction (a savepoint
# inside the test's, with its release): lock the video, then the export (the order a delete of
# the video takes), give the lease back, note the step.
QUERIES_PER_COPY = 8
# For each clip of a custom range (no source clip to look up): lock and read its row, insert it
# (update_or_create: a read, two savepoints with their releases), count it on the video.
QUERIES_PER_RENDERED_CLIP = 8


@pytest.mark.django_db
def test_failure_never_overrides_a_finished_export():
    export = ExportFactory(status=Export.Status.PARTIAL, inngest_run_id="run-1")
    job_fail(
        model=Export,
        failed=export_failed_status,
        job_id=str(export.id),
        run_id="run-1",
        event_id="",
        error="boom",
    )
    export.refresh_from_db()
    assert export.status == Export.Status.PARTIAL


@pytest.mark.django_db
def test_a_recorded_failure_never_replaces_a_rendered_clip():
    export = ExportFactory(
        status=Export.Status.PROCESSING,
        selected_ranges=[{"start": 0.0, "end": 30.0, "clip_id": None}],
    )
    ExportedClipFactory(export=export, start=0.0, end=30.0, s3_key="exports/done.mp4")

    export_render_failed(
        export_id=str(export.id), step="call-process-clips-api", attempt=0, error="late failure"
    )
    saved = export_finish(export_id=str(export.id), attempt=0)

    assert saved.status == Export.Status.COMPLETED
    assert export.exported_clips.get().s3_key == "exports/done.mp4"


@pytest.mark.django_db
def test_render_failure_and_finish_are_idempotent():
    ranges = [
        {"start": 0.0, "end": 30.0, "clip_id": None},
        {"start": 40.0, "end": 50.0, "clip_id": None},
    ]
    export = ExportFactory(status=Export.Status.PROCESSING, selected_ranges=ranges)
    ExportedClipFactory(export=export, start=0.0, end=30.0, s3_key="exports/a.mp4")
    for attempt in (0, 1):
        export_render_failed(
            export_id=str(export.id), step="call-process-clips-api", attempt=attempt, error="no"
        )
        saved = export_finish(export_id=str(export.id), attempt=attempt)

    assert saved.status == Export.Status.PARTIAL
    assert export.exported_clips.count() == 2
    assert "40-50s: no" in saved.last_error


@pytest.mark.django_db
def test_a_failed_export_is_partial_when_some_clips_were_rendered():
    rendered = ExportFactory(status=Export.Status.PROCESSING, inngest_run_id="run-1")
    ExportedClipFactory(export=rendered, start=0.0, end=30.0, s3_key="exports/a.mp4")
    ExportedClipFactory(export=rendered, start=40.0, end=50.0, s3_key="", error="refused")
    nothing = ExportFactory(status=Export.Status.PROCESSING, inngest_run_id="run-1")
    ExportedClipFactory(export=nothing, start=0.0, end=30.0, s3_key="", error="refused")

    job_fail(
        model=Export,
        failed=export_failed_status,
        job_id=str(rendered.id),
        run_id="run-1",
        event_id="",
        error="database down",
    )
    job_fail(
        model=Export,
        failed=export_failed_status,
        job_id=str(nothing.id),
        run_id="run-1",
        event_id="",
        error="database down",
    )

    rendered.refresh_from_db()
    nothing.refresh_from_db()
    assert (rendered.status, rendered.last_error) == (Export.Status.PARTIAL, "database down")
    assert (nothing.status, nothing.last_error) == (Export.Status.FAILED, "database down")
    assert rendered.finished_at is not None and nothing.finished_at is not None


@pytest.mark.django_db
@pytest.mark.parametrize("ranges", [1, 4])
def test_rendering_is_progress_on_the_export(fake_clips_api, ranges, django_assert_num_queries):
    export = ExportFactory(
        status=Export.Status.PROCESSING,
        inngest_run_id="run-1",
        selected_ranges=[
            {"start": 60.0 * n, "end": 60.0 * n + 30, "clip_id": None} for n in range(ranges)
        ],
    )
    long_ago = timezone.now() - timedelta(hours=2)
    Export.objects.filter(pk=export.pk).update(updated_at=long_ago)

    with django_assert_num_queries(QUERIES_PER_RENDER):
        rendered = export_render(
            export_id=str(export.id), run_id="run-1", step="call-process-clips-api", attempt=1
        )
    with django_assert_num_queries(QUERIES_PER_COPY + QUERIES_PER_RENDERED_CLIP * ranges):
        copied = export_copy_rendered(
            export_id=str(export.id),
            run_id="run-1",
            outputs=rendered["outputs"],
            tried=0,
            step="copy-rendered-clips",
            attempt=1,
        )

    assert (rendered["requested"], rendered["rendered"], rendered["failed"]) == (ranges, ranges, 0)
    assert copied == {"copied": ranges, "failed": 0}
    export.refresh_from_db()
    assert export.updated_at > long_ago
    assert export not in exports_stuck(older_than=timedelta(minutes=30))
    assert export.timeline[-1] | {"at": None} == {
        "step": "copy-rendered-clips",
        "at": None,
        "attempt": 1,
        "detail": f"{ranges} of {ranges} clips rendered in one call and kept",
    }
    assert [c.s3_key for c in export.exported_clips.all()] == [
        export.clip_key(n) for n in range(ranges)
    ]
