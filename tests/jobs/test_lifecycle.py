"""The job lifecycle: allowed moves only, the timeline, and `status_changed` after commit."""

import pytest
from django.db import transaction

from exports.models import Export
from jobs import lifecycle
from jobs.lifecycle import TransitionRefused, status_changed
from tests.factories import ExportFactory, VideoFactory
from videos.models import Video


@pytest.fixture
def changes():
    seen = []

    def receiver(sender, *, job, old, new, **kwargs):
        seen.append((sender, job.pk, old, new))

    status_changed.connect(receiver, dispatch_uid="test-lifecycle")
    yield seen
    status_changed.disconnect(dispatch_uid="test-lifecycle")


def test_both_models_hold_exactly_the_lifecycles_states():
    assert set(Export.Status.values) == {
        lifecycle.PENDING,
        lifecycle.PROCESSING,
        lifecycle.COMPLETED,
        lifecycle.PARTIAL,
        lifecycle.FAILED,
        lifecycle.CANCELLED,
    }
    assert set(Video.Status.values) == set(Export.Status.values) - {lifecycle.PARTIAL}
    assert set(lifecycle.ALLOWED) == set(Export.Status.values)
    assert set(Export.Status.values) == lifecycle.FINAL | lifecycle.ACTIVE
    assert not lifecycle.FINAL & lifecycle.ACTIVE


@pytest.mark.django_db(transaction=True)
def test_a_change_is_announced_once_after_commit_with_its_timeline_line(changes):
    video = VideoFactory()
    with transaction.atomic():
        lifecycle.transition(video, lifecycle.PROCESSING, step="create-video-record", attempt=2)
        video.save()
        assert changes == []  # not before the commit
    assert changes == [(Video, video.pk, "pending", "processing")]
    video.refresh_from_db()
    assert video.status == "processing"
    assert video.timeline[-1]["step"] == "create-video-record"
    assert video.timeline[-1]["attempt"] == 2
    assert video.timeline[-1]["detail"] == "pending → processing"


@pytest.mark.django_db(transaction=True)
def test_a_rolled_back_change_is_never_announced(changes):
    export = ExportFactory()
    with pytest.raises(RuntimeError), transaction.atomic():
        lifecycle.transition(export, lifecycle.CANCELLED, step="cancel")
        export.save()
        raise RuntimeError("rolled back")
    assert changes == []
    export.refresh_from_db()
    assert export.status == "pending"


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("old", "new"),
    [
        ("completed", "pending"),
        ("completed", "cancelled"),
        ("cancelled", "cancelled"),
        ("cancelled", "processing"),
        ("failed", "cancelled"),
        ("pending", "completed"),
        ("partial", "completed"),
    ],
)
def test_moves_the_lifecycle_does_not_allow_are_refused_and_change_nothing(old, new):
    export = ExportFactory(status=old)
    timeline = list(export.timeline)
    with pytest.raises(TransitionRefused, match=f"is {old}: it cannot become {new}"):
        lifecycle.transition(export, new, step="test")
    assert (export.status, export.timeline) == (old, timeline)


@pytest.mark.django_db
def test_a_final_status_sets_the_finish_time_and_pending_clears_the_last_run():
    export = ExportFactory(status="processing", last_error="boom")
    lifecycle.transition(export, lifecycle.FAILED, step="on-failure")
    assert export.finished_at is not None
    lifecycle.transition(export, lifecycle.PENDING, step="run-again")
    assert (export.finished_at, export.started_at, export.last_error) == (None, None, "")


@pytest.mark.django_db(transaction=True)
def test_processing_again_by_a_newer_run_is_not_a_change(changes):
    video = VideoFactory(status="processing")
    lifecycle.transition(video, lifecycle.PROCESSING, step="create-video-record")
    assert changes == [] and video.timeline == []
