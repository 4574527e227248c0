"""The development executor: a stand-in for Inngest when no Dev Server runs (`make run` on a
machine without Node or network). It takes the outbox's undelivered events, starts the runs
their names trigger (from the functions' own configs), drives each through `/api/inngest` with
`devtools.executor` on a small thread pool, and marks the events delivered.

Like Inngest it cancels: an event matching a function's cancel rule (`video/identify.cancelled`
for a running identify-clips of that video) stops driving that run before its next request; the
step under way finishes, as it would with Inngest.

What it is not: durable. Runs live in this process; if it stops mid-run the job stays
`processing` until `resend_events --stuck` runs it again. Cron functions are not run (the one
cron, resend-undelivered-events, sends the outbox to Inngest, which is what this loop does)."""

from __future__ import annotations

import logging
import threading
import uuid
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field

from django.db import close_old_connections

from devtools.executor import InngestExecutor, Run
from devtools.registry import FunctionSpec
from outbox.delivery import event_payload, events_mark_delivered
from outbox.selectors import events_undelivered

logger = logging.getLogger(__name__)

# Events taken from the outbox per poll; the rest wait for the next poll.
POLL_BATCH = 50


@dataclass
class ActiveRun:
    spec: FunctionSpec
    event: dict
    run_id: str = field(default_factory=lambda: uuid.uuid4().hex)
    cancel: threading.Event = field(default_factory=threading.Event)
    future: Future | None = None


class DevExecutor:
    def __init__(self, *, executor: InngestExecutor, workers: int = 4) -> None:
        self.executor = executor
        self.pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="dev-executor")
        self._lock = threading.Lock()
        self._active: dict[str, ActiveRun] = {}
        self.finished: list[Run] = []  # in the order they ended (tests and the summary read it)

    @property
    def active(self) -> list[ActiveRun]:
        with self._lock:
            return list(self._active.values())

    def poll_once(self) -> int:
        """Take up to POLL_BATCH undelivered events, oldest first: mark them delivered, then
        dispatch them in that order (so a cancel written after its job's event finds the run).
        Returns how many events it took."""
        close_old_connections()
        rows = list(events_undelivered()[:POLL_BATCH])
        if not rows:
            return 0
        events_mark_delivered(ids=[row.pk for row in rows])
        for row in rows:
            self.dispatch(event_payload(row))
        return len(rows)

    def dispatch(self, event: dict) -> list[ActiveRun]:
        """What Inngest does with an incoming event: cancel the runs it cancels, start the
        runs it triggers."""
        for active in self.active:
            if active.spec.cancelled_by(event, active.event) and not active.cancel.is_set():
                logger.info(
                    "Cancelling %s run %s: %s %s arrived",
                    active.spec.id, active.run_id, event["name"], event.get("id"),
                )  # fmt: skip
                active.cancel.set()
        started = [self._start(spec, event) for spec in self.executor.registry.triggered_by(event)]
        if not started:
            logger.info("Event %s %s triggers no function", event["name"], event.get("id"))
        return started

    def _start(self, spec: FunctionSpec, event: dict) -> ActiveRun:
        active = ActiveRun(spec=spec, event=event)
        with self._lock:
            self._active[active.run_id] = active
        logger.info(
            "Starting %s run %s for %s %s", spec.id, active.run_id, event["name"], event.get("id")
        )
        active.future = self.pool.submit(self._drive, active)
        return active

    def _drive(self, active: ActiveRun) -> Run | None:
        try:
            run = self.executor.run(
                active.spec.id, active.event, run_id=active.run_id, cancel=active.cancel
            )
        except Exception:
            # The run cannot go on (the endpoint answered what Inngest would not accept): say
            # so, and keep serving the others.
            logger.exception("%s run %s stopped", active.spec.id, active.run_id)
            return None
        finally:
            with self._lock:
                self._active.pop(active.run_id, None)
        detail = f": {run.error.get('message')}" if run.error else ""
        logger.info(
            "%s run %s %s after %d request(s)%s",
            active.spec.id, run.run_id, run.status, run.requests, detail,
        )  # fmt: skip
        with self._lock:
            self.finished.append(run)
        return run

    def serve(self, *, stop: threading.Event, poll_interval: float = 0.5) -> None:
        """Poll until `stop` is set. A failing poll (the database busy or gone) is logged and
        tried again: the events stay in the outbox."""
        while not stop.is_set():
            try:
                taken = self.poll_once()
            except Exception:
                logger.exception("Polling the outbox failed; trying again")
                taken = 0
            if not taken:
                stop.wait(poll_interval)

    def close(self, *, cancel_runs: bool = True) -> None:
        """Stop: cancel what runs (each stops before its next request) and wait for the pool."""
        if cancel_runs:
            for active in self.active:
                active.cancel.set()
        self.pool.shutdown(wait=True)
