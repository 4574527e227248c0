"""The job counters (`jobs.metrics`): what one status change of the job lifecycle records."""

from datetime import timedelta

import pytest
from django.utils import timezone
from prometheus_client import REGISTRY

from exports.models import Export
from jobs.metrics import record_status_change
from videos.models import Video


def sample(name: str, **labels) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


def test_a_cancellation_counts_once_by_kind():
    before = sample("korai_job_cancellations_total", kind="export")
    reruns = sample("korai_job_reruns_total", kind="export")
    record_status_change(Export, job=Export(), old="processing", new="cancelled")
    assert sample("korai_job_cancellations_total", kind="export") == before + 1
    assert sample("korai_job_reruns_total", kind="export") == reruns


def test_a_job_sent_back_to_pending_is_a_rerun():
    for old in ("failed", "cancelled", "processing"):
        before = sample("korai_job_reruns_total", kind="video")
        record_status_change(Video, job=Video(), old=old, new="pending")
        assert sample("korai_job_reruns_total", kind="video") == before + 1
    changes = sample("korai_job_status_changes_total", kind="video", old="failed", new="pending")
    assert changes >= 1


def test_a_final_status_observes_the_jobs_duration_by_function():
    labels = {"function": "identify-clips", "status": "completed"}
    count = sample("korai_job_duration_seconds_count", **labels)
    total = sample("korai_job_duration_seconds_sum", **labels)
    now = timezone.now()
    job = Video(started_at=now - timedelta(seconds=42), finished_at=now)
    record_status_change(Video, job=job, old="processing", new="completed")
    assert sample("korai_job_duration_seconds_count", **labels) == count + 1
    # Sums of float seconds: the process-wide total may already hold fractions.
    assert sample("korai_job_duration_seconds_sum", **labels) - total == pytest.approx(42)
    # A job that never started (cancelled while pending) has no duration.
    cancelled = {"function": "identify-clips", "status": "cancelled"}
    before = sample("korai_job_duration_seconds_count", **cancelled)
    record_status_change(Video, job=Video(), old="pending", new="cancelled")
    assert sample("korai_job_duration_seconds_count", **cancelled) == before
