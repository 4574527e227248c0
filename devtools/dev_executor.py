"""The development executor: a stand-in for Inngest when no Dev Server runs (`make run` on a
machine without Node or network). It takes the outbox's undelivered events, starts the runs
their names trigger (from the functions' own configs), drives each through `/api/inngest` with
`devtools.executor` on a small thread pool, and marks the events delivered.

What it does as the server does (`pkg/execution/runner/runner.go`, `pkg/execution/executor/`):
- every event it receives, a duplicate included, is matched against the cancel rules of the runs
  in progress (`video/identify.cancelled` for a running identify-clips of that video): that run
  stops, its request in flight is given up (the step under way still finishes on the Django
  side); a cancel received before a run started has no effect on it;
- an event whose `id` a function has already seen in the last 24 hours starts no new run of it
  (`consts.FunctionIdempotencyPeriod`, keyed by function and event id: `idempotencyKey`);
- every run's end is reported (`inngest/function.finished`, `.failed`, `.cancelled`) like any
  received event, so a failure handler runs on the pool as a run of its own;
- `cancel_run(run_id)` cancels a run as the dashboard or `DELETE /v1/runs/{id}` would;
- each received event gets the engine's own id (a ULID, `received`), under which the engine's REST
  API (`devtools.engine_api`) lists its runs.

What it is not: durable. Runs live in this process and die with it; a stop reports none of them
(the server does not cancel its runs when it restarts). So when it starts, `resume()` takes up
what the previous process left in flight: every video and export still pending (its event
delivered) or processing is run again, and every video deletion whose clean-up is pending gets
its `video/deleted` event again (its second sweep was a sleep in the dead process). Cron
functions are not run (resend-undelivered-events sends the outbox to Inngest, which is what
this loop does; reconcile-jobs is what `resume()` stands in for at a restart)."""

from __future__ import annotations

import logging
import threading
import time
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import timedelta

from django.db import close_old_connections

from core.events import VIDEO_DELETED_EVENT
from devtools.answers import new_ulid
from devtools.executor import InngestExecutor, Run
from devtools.registry import FunctionSpec
from exports.models import Export
from exports.services import EXPORT_JOB
from jobs.reruns import jobs_rerun
from outbox.delivery import event_payload, events_mark_delivered
from outbox.models import OutboxEvent
from outbox.selectors import events_undelivered
from videos.deletion import video_cleanup_retry
from videos.models import Video, VideoDeletion
from videos.services import VIDEO_JOB

logger = logging.getLogger(__name__)

# Events taken from the outbox per poll; the rest wait for the next poll.
POLL_BATCH = 50
# How long a function remembers an event id (`consts.FunctionIdempotencyPeriod`).
DEDUPLICATION_SECONDS = 24 * 3600


@dataclass
class ActiveRun:
    spec: FunctionSpec
    event: dict
    event_id: str = ""  # the engine's id of the event (`Received.id`)
    run_id: str = field(default_factory=new_ulid)
    cancel: threading.Event = field(default_factory=threading.Event)
    future: Future | None = None


@dataclass
class Resumed:
    """What `resume()` took up from the previous process."""

    videos: list[str] = field(default_factory=list)  # ids run again
    exports: list[str] = field(default_factory=list)
    deletions: list[str] = field(default_factory=list)  # ids whose clean-up was sent again

    @property
    def total(self) -> int:
        return len(self.videos) + len(self.exports) + len(self.deletions)


@dataclass(frozen=True)
class Received:
    id: str  # the engine's id (a ULID), as the event API answers `{"ids": [...]}`
    event: dict


class DevExecutor:
    def __init__(self, *, executor: InngestExecutor, workers: int = 4) -> None:
        self.executor = executor
        self.pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="dev-executor")
        self._lock = threading.Lock()
        self._active: dict[str, ActiveRun] = {}
        self.finished: list[Run] = []  # in the order they ended (tests and the summary read it)
        self.received: list[Received] = []  # every event, in the order it arrived
        self._seen: dict[tuple[str, str], float] = {}  # (function, event id) -> first seen
        self._closing = threading.Event()

    @property
    def active(self) -> list[ActiveRun]:
        with self._lock:
            return list(self._active.values())

    def resume(self) -> Resumed:
        """Take up what a previous executor left in flight; call it once, when starting, before
        any run of this one exists (every active job then belongs to a dead run).

        - A video or export `processing`, or `pending` with its event delivered: its run died
          with that process. It is run again (`jobs_rerun`: pending, a new event). One whose
          event is still undelivered is left to the poll, which delivers it. An export whose
          render was in its processing call waits for the video's render lease to expire
          (`exports.leases`): that call may still be writing (a Django process that outlived
          the executor).
        - A `VideoDeletion` still pending, its `video/deleted` event delivered: that run's
          second sweep (after its sleep) is gone. Its clean-up is started again
          (`video_cleanup_retry`), which sweeps both times afresh."""
        close_old_connections()
        rerun = jobs_rerun(
            candidates=[(VIDEO_JOB, Video.objects.all()), (EXPORT_JOB, Export.objects.all())],
            stuck_for=timedelta(0),
        )
        resumed = Resumed(videos=rerun.of("video"), exports=rerun.of("export"))
        waiting = {
            event_id.split(":")[1]
            for event_id in OutboxEvent.objects.filter(
                name=VIDEO_DELETED_EVENT, delivered_at__isnull=True
            ).values_list("event_id", flat=True)
        }
        for deletion in VideoDeletion.objects.filter(cleaned_at__isnull=True).order_by(
            "deleted_at"
        ):
            if str(deletion.pk) not in waiting:
                video_cleanup_retry(deletion=deletion)
                resumed.deletions.append(str(deletion.pk))
        if resumed.total:
            logger.info(
                "Resuming what the previous executor left in flight: %d video(s) and %d "
                "export(s) run again, %d clean-up(s) started again",
                len(resumed.videos), len(resumed.exports), len(resumed.deletions),
            )  # fmt: skip
        return resumed

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
        """What Inngest does with an incoming event: cancel the runs in progress it cancels,
        then start the runs it triggers (not those a function already ran for its id)."""
        received = Received(id=new_ulid(), event=event)
        with self._lock:
            self.received.append(received)
        for active in self.active:
            if active.spec.cancelled_by(event, active.event) and not active.cancel.is_set():
                logger.info(
                    "Cancelling %s run %s: %s %s arrived",
                    active.spec.id, active.run_id, event["name"], event.get("id"),
                )  # fmt: skip
                active.cancel.set()
        started = [
            self._start(spec, received)
            for spec in self.executor.registry.triggered_by(event)
            if self._first_sight(spec, event)
        ]
        if not started:
            logger.info("Event %s %s starts no run", event["name"], event.get("id"))
        return started

    def cancel_run(self, run_id: str) -> bool:
        """Cancel a run in progress, as an operator does from the dashboard or the REST API;
        False if no such run is in progress."""
        with self._lock:
            active = self._active.get(run_id)
        if active is None:
            return False
        logger.info("Cancelling %s run %s at an operator's request", active.spec.id, run_id)
        active.cancel.set()
        return True

    def _first_sight(self, spec: FunctionSpec, event: dict) -> bool:
        """Whether `spec` has not seen this event id in the last 24 hours (and note it)."""
        if not event.get("id"):
            return True
        key, now = (spec.id, str(event["id"])), time.monotonic()
        with self._lock:
            seen = self._seen.get(key)
            if seen is not None and now - seen < DEDUPLICATION_SECONDS:
                logger.info("%s already ran for event %s: no new run", spec.id, event["id"])
                return False
            self._seen[key] = now
        return True

    def _start(self, spec: FunctionSpec, received: Received) -> ActiveRun:
        active = ActiveRun(spec=spec, event=received.event, event_id=received.id)
        with self._lock:
            self._active[active.run_id] = active
        logger.info(
            "Starting %s run %s for %s %s",
            spec.id, active.run_id, received.event["name"], received.event.get("id"),
        )  # fmt: skip
        try:
            active.future = self.pool.submit(self._drive, active)
        except RuntimeError:  # the pool is shutting down (a run's report during close())
            logger.warning("%s run %s not started: stopping", spec.id, active.run_id)
            with self._lock:
                self._active.pop(active.run_id, None)
        return active

    def _drive(self, active: ActiveRun) -> Run | None:
        try:
            run = self.executor.run(
                active.spec.id,
                active.event,
                run_id=active.run_id,
                cancel=active.cancel,
                event_id=active.event_id,
                emit=self._report,
                max_attempts=active.spec.max_attempts,
            )
        except Exception:
            # The executor cannot go on with this run: say so, and keep serving the others.
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

    def _report(self, event: dict) -> None:
        """A run's end, received like any other event: its runs go on the pool. While stopping
        nothing is reported: a run stopped by the stop is not a cancelled one (the server does
        not cancel its runs when it restarts); the next start resumes its job."""
        if self._closing.is_set():
            logger.info("Stopping: %s not reported", event["name"])
            return
        self.dispatch(event)

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
        """Stop: cancel what runs (each stops before its next request, as a killed process
        would leave it: nothing of its end reported) and wait for the pool."""
        self._closing.set()
        if cancel_runs:
            for active in self.active:
                active.cancel.set()
        self.pool.shutdown(wait=True)
