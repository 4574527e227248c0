"""When Inngest tries a failed request again, read from the server's source: its backoff table
(`pkg/backoff/backoff.go`, `TableBackoff`: 15 s, 30 s, 1 m … 2 h, plus up to 30 s of jitter,
indexed by the attempt that failed: `pkg/execution/queue/process.go`) and its reading of
`Retry-After` (`pkg/execution/driver/httpdriver/parse.go`, `ParseRetry`: seconds or a date,
clipped to 1 s … 24 h, `pkg/consts/consts.go`). Every wait is multiplied by `scale`, so the
tests' executor keeps the schedule's shape in milliseconds and the development executor can
shorten it; `cap` (seconds, after scaling) bounds any one wait."""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

TABLE = (15, 30, 60, 120, 300, 600, 1200, 2400, 3600, 7200)
JITTER = 30.0
MIN_RETRY_AFTER = 1.0
MAX_RETRY_AFTER = 24 * 3600.0


@dataclass(frozen=True)
class Backoff:
    scale: float = 0.0  # the tests' executor waits nothing
    cap: float | None = None
    jitter: bool = True

    def delay(self, attempt: int, retry_after: str | None = None) -> float:
        """Seconds to wait before attempt `attempt` (1 for the first retry). A readable
        `retry-after` replaces the table, without jitter, as the server's `RetryAtError` does."""
        wait = _retry_after_seconds(retry_after) if retry_after else None
        if wait is None:
            wait = TABLE[min(max(attempt - 1, 0), len(TABLE) - 1)]
            if self.jitter:
                wait += random.uniform(0, JITTER)  # noqa: S311 - spreads retries, guards nothing
        wait *= self.scale
        return wait if self.cap is None else min(wait, self.cap)


def _retry_after_seconds(value: str) -> float | None:
    value = value.strip()
    if len(value) <= 7:  # as the server: no date is that short, so it is seconds
        seconds = float(value) if value.isdigit() else None
    else:
        seconds = seconds_until(value)
    if seconds is None:
        return None
    return min(max(seconds, MIN_RETRY_AFTER), MAX_RETRY_AFTER)


def seconds_until(when: str) -> float | None:
    """Seconds from now until `when` (RFC 3339 or an HTTP date); None if unreadable."""
    try:
        moment = datetime.fromisoformat(when.replace("Z", "+00:00"))
    except ValueError:
        try:
            moment = parsedate_to_datetime(when)
        except (TypeError, ValueError):
            return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return (moment - datetime.now(UTC)).total_seconds()
