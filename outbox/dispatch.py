"""Sends just-committed events from a background thread, so no request waits on Inngest.

One daemon thread per process takes event ids from a bounded queue and delivers them with
`events_deliver` (one short attempt). Nothing is lost if the process dies with ids still queued,
or if the queue is full: the rows stay undelivered and `resend_events` (or the cron function)
sends them. `OUTBOX_DELIVERY = "inline"` delivers in the committing thread instead, for tests
that want delivery finished when the response is."""

import atexit
import logging
import math
import queue
import threading
import time

from django.conf import settings
from django.db import close_old_connections, connections

from outbox.delivery import events_deliver_ids

logger = logging.getLogger(__name__)

_pending: queue.Queue = queue.Queue(maxsize=10_000)
SEND_BATCH_SIZE = 50  # commits whose events share one POST
_start_lock = threading.Lock()
_sender: threading.Thread | None = None


def deliver_after_commit(event_ids: list) -> None:
    """The on_commit hook of `event_record`."""
    if settings.OUTBOX_DELIVERY == "inline":
        events_deliver_ids(ids=event_ids)
        return
    _ensure_sender()
    try:
        _pending.put_nowait(list(event_ids))
    except queue.Full:
        logger.warning(
            "Outbox send queue is full; %d event(s) left for resend_events",
            len(event_ids),
            extra={"event_ids": [str(pk) for pk in event_ids]},
        )


def flush(timeout: float = 5.0) -> bool:
    """Wait until every queued delivery has been tried; False if `timeout` ran out first."""
    deadline = time.monotonic() + timeout
    with _pending.all_tasks_done:
        while _pending.unfinished_tasks:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return False
            _pending.all_tasks_done.wait(remaining)
    return True


def flush_timeout(commits: int) -> float:
    """How long `flush` may need after `commits` deliveries were queued: one POST per
    SEND_BATCH_SIZE of them plus the one that may already be under way, each bounded by its
    connect and its read timeout (INNGEST_SEND_TIMEOUT_SECONDS each), and a second of slack
    for the database."""
    posts = 1 + math.ceil(max(commits, 0) / SEND_BATCH_SIZE)
    return posts * 2 * settings.INNGEST_SEND_TIMEOUT_SECONDS + 1.0


def _ensure_sender() -> None:
    global _sender
    with _start_lock:
        # Also restarts the thread in a forked child, which inherits a dead Thread object.
        if _sender is None or not _sender.is_alive():
            _sender = threading.Thread(target=_send_forever, name="outbox-sender", daemon=True)
            _sender.start()


def _send_forever() -> None:
    while True:
        batches = [_pending.get()]
        # Whatever else is already queued goes in the same POST: one timeout per batch, not
        # per event, while Inngest hangs.
        while len(batches) < SEND_BATCH_SIZE:
            try:
                batches.append(_pending.get_nowait())
            except queue.Empty:
                break
        event_ids = [pk for batch in batches for pk in batch]
        try:
            close_old_connections()
            events_deliver_ids(ids=event_ids)
        except Exception:
            # The rows stay undelivered; resend_events will send them.
            logger.exception("Background delivery of %d event(s) failed", len(event_ids))
        finally:
            if _pending.empty():
                # An idle sender holds no database connection (nor keeps a test database
                # from being dropped).
                connections.close_all()
            for _ in batches:
                _pending.task_done()


# A worker that stops gracefully sends what it has queued (briefly: a hanging Inngest must
# not hold up a deploy; resend_events covers the rest).
atexit.register(flush, 2.0)
