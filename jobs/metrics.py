"""The jobs' Prometheus series, fed by the lifecycle's `status_changed` signal (sent after
commit, once per change): the one place where a job's status changes, so nothing is counted
twice or missed. Per process, like every series of core.metrics."""

from django.utils import timezone
from prometheus_client import Counter, Histogram

from jobs import lifecycle

# Jobs run from seconds to hours.
JOB_BUCKETS = (1, 5, 10, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 14400)

JOB_DURATION = Histogram(
    "korai_job_duration_seconds",
    "From a job's start to its final status, by function and final status.",
    ["function", "status"],
    buckets=JOB_BUCKETS,
)
JOB_STATUS_CHANGES = Counter(
    "korai_job_status_changes",
    "Job status changes, from the job lifecycle.",
    ["kind", "old", "new"],
)
JOB_CANCELLATIONS = Counter("korai_job_cancellations", "Jobs cancelled.", ["kind"])
JOB_RERUNS = Counter("korai_job_reruns", "Final jobs sent back to pending to run again.", ["kind"])


def record_status_change(sender, *, job, old: str, new: str, **kwargs) -> None:
    """Receiver of `jobs.lifecycle.status_changed`."""
    kind = sender._meta.model_name
    JOB_STATUS_CHANGES.labels(kind, old, new).inc()
    if new == lifecycle.CANCELLED:
        JOB_CANCELLATIONS.labels(kind).inc()
    elif new == lifecycle.PENDING:
        # Only a rerun sends a job back to pending (a failed, partial, cancelled or stuck one;
        # a stuck pending job run again stays pending: no change, not counted).
        JOB_RERUNS.labels(kind).inc()
    if new in lifecycle.FINAL and job.started_at is not None:
        finished = job.finished_at or timezone.now()
        JOB_DURATION.labels(sender.inngest_function, new).observe(
            max((finished - job.started_at).total_seconds(), 0.0)
        )
