"""Korai's own Prometheus series that are counted in the process (prometheus_client).

Counters and histograms are per process; with several gunicorn workers set
PROMETHEUS_MULTIPROC_DIR (docs/monitoring.md) and /metrics adds up every worker's files.
Series that must be the same whichever worker answers (jobs by status, the outbox backlog) are
read from the database at scrape time instead: `operations.metrics`.
"""

import re
import time
from collections.abc import Iterator
from contextlib import contextmanager

import structlog
from prometheus_client import Histogram

logger = structlog.stdlib.get_logger("korai.api")

# Steps and external calls run from milliseconds (a database write) to 15 minutes (identifying
# a long video).
STEP_BUCKETS = (0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 900, 1800)

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
OUTCOMES = ("ok", "retriable", "refused", "malformed")


def step_label(step_id: str) -> str:
    """Steps repeated per item (a numbered suffix, `copy-clip-3`) share one label, so the
    number of series stays fixed; logs keep the full step id."""
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
