"""Korai's own Prometheus series that are counted in the process (prometheus_client).

Counters and histograms are per process; with several gunicorn workers set
PROMETHEUS_MULTIPROC_DIR (README, "Monitoring") and /metrics adds up every worker's files.
Series that must be the same whichever worker answers (jobs by status, the outbox backlog) are
read from the database at scrape time instead: `operations.metrics`.
"""

import re
import time
from collections.abc import Iterator
from contextlib import contextmanager

import structlog
from django.utils import timezone
from prometheus_client import Counter, Histogram

from core import lifecycle

logger = structlog.stdlib.get_logger("korai.api")

# Steps and external calls run from milliseconds (a database write) to 15 minutes (identifying
# a long video); jobs from seconds to hours.
STEP_BUCKETS = (0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 900, 1800)
JOB_BUCKETS = (1, 5, 10, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 14400)

STEP_DURATION = Histogram(
    "korai_step_duration_seconds",
    "Time spent running an Inngest step's code (replays of memoized steps are not counted).",
    ["function", "step", "outcome"],  # outcome: ok, error (raised: Inngest retries or fails it)
    buckets=STEP_BUCKETS,
)
EXTERNAL_API_CALL_DURATION = Histogram(
    "korai_external_api_call_duration_seconds",
    "Calls to external APIs, by API and outcome: ok, retriable (unreachable, 5xx, 429, "
    "Retry-After), refused (other 4xx), malformed (an answer that breaks the contract).",
    ["api", "outcome"],
    buckets=STEP_BUCKETS,
)
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

OUTCOMES = ("ok", "retriable", "refused", "malformed")


def step_label(step_id: str) -> str:
    """Steps repeated per item (`process-clip-3`) share one label, so the number of series
    stays fixed; logs keep the full step id."""
    return re.sub(r"-\d+$", "-n", step_id)


class ApiCall:
    """What `observe_api_call` yields: the caller may set `outcome` before leaving the block."""

    def __init__(self) -> None:
        self.outcome = "ok"


@contextmanager
def observe_api_call(api: str, classify) -> Iterator[ApiCall]:
    """Time one call to `api`; an exception leaving the block is classified by
    `classify(exception) -> outcome` (one of OUTCOMES) and re-raised."""
    call = ApiCall()
    started = time.perf_counter()
    try:
        yield call
    except Exception as err:
        call.outcome = classify(err)
        raise
    finally:
        elapsed = time.perf_counter() - started
        EXTERNAL_API_CALL_DURATION.labels(api, call.outcome).observe(elapsed)
        log = logger.info if call.outcome == "ok" else logger.warning
        log("external_api_call", api=api, outcome=call.outcome, duration_seconds=round(elapsed, 3))


# --- Fed by the job lifecycle -------------------------------------------------------------------

FUNCTION_OF_KIND = {"video": "identify-clips", "export": "process-clips"}


def record_status_change(sender, *, job, old: str, new: str, **kwargs) -> None:
    """Receiver of `core.lifecycle.status_changed` (sent after commit, once per change): the one
    place where a job's status changes, so nothing is counted twice or missed."""
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
        JOB_DURATION.labels(FUNCTION_OF_KIND.get(kind, kind), new).observe(
            max((finished - job.started_at).total_seconds(), 0.0)
        )
