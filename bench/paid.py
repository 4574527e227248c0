"""GPU runs paid per job under faults, with Korai's protections and without them, side by side.

Each fault is run twice in the same process: once as Korai is, once with one protection
switched off (monkeypatched here, in the benchmark only). The functions run through
/api/inngest (signed HTTP, `devtools/executor.py`) served by an in-process threaded WSGI
server, so the patches reach the steps, against the fake clips API (`tests/fakes/clips_api.py`,
whose POST counts are the GPU runs paid) and a local S3 server (`tests/fakes/s3.py`). One
redirect interval is 1 s (the real service's 150 s); Inngest's back-off and Korai's waits for
storage are scaled by `SCALE` (1/20: 3 s of outage stand for 60 s), without jitter.

Without the protections (one switched off per fault):
- a. the POST step's answer lost after the `303` (a proxy cuts it): `pending_call` answers "",
  so the retried POST step posts again;
- b. an idle timeout (2.5 s) shorter than the call (4 s): the call as before the `303`s were
  kept, one request following them to the result (`allow_redirects`, the whole call's read
  timeout), so the step outlasts the timeout, is cut, and its retry posts again;
- c. storage down 3 s right after the render: the copies made in the render step, their
  failure failing it, so the render step is retried and renders again (the answered-lease
  shortcut off);
- d. four concurrent reruns of one failed video: `job_rerun` without its `only_if` re-check.

Also: (e) the longest /api/inngest request during a render of four intervals, and (f) how long
a render cancelled mid-call keeps its steps thread (from the cancel until the step's request
returns on the Django side), each with and without the one-interval requests.

    .venv/bin/python -m bench.paid
"""

import contextlib
import os
import threading
import time
from http.server import ThreadingHTTPServer
from unittest import mock

from bench.common import identify_event, process_event, report, setup_django

INTERVAL = 1.0  # CLIPS_API_REDIRECT_INTERVAL_SECONDS
SCALE = 0.05  # Inngest's back-off and the waits for storage: 15 s -> 0.75 s
IDLE_TIMEOUT = 2.5  # (b): the executor's read timeout, between one interval and the call
CALL_INTERVALS = 4  # (b), (e): a call of 4 intervals
OUTAGE = 3.0  # (c): seconds storage stays down after the render (60 s at SCALE)
RERUNS = 4  # (d)
CANCEL_AFTER = 2.3  # (f): seconds into a render of 6 intervals
BUCKET = "korai-bench-paid"


def main() -> dict:
    setup_django()
    import logging

    from django.test.utils import override_settings

    from tests.fakes.clips_api import FakeClipsAPI
    from tests.fakes.inngest_api import FakeInngestEventAPI
    from tests.fakes.s3 import REGION, LocalS3

    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # moto's request log
    logging.getLogger("korai").setLevel(logging.ERROR)  # the failed attempts the faults cause
    # boto3 reads the keys from the environment, as in production.
    os.environ.setdefault("AWS_ACCESS_KEY_ID", "bench")
    os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "bench")
    store = LocalS3().start()
    store.create_bucket(BUCKET)

    def put(key, body):
        # The service writes to its own storage; the outage is Korai's side.
        with contextlib.suppress(Exception):
            store.put(BUCKET, key, body)

    results = {}
    try:
        with (
            FakeClipsAPI(token="bench-clips-token", store=put) as api,
            FakeInngestEventAPI() as event_api,  # the reruns' events, sent after commit
        ):
            overrides = override_settings(
                INNGEST_BASE_URL=event_api.url,
                CLIPS_API_URL=api.identify_url,
                PROCESS_CLIPS_API_URL=api.process_url,
                CLIPS_API_FALLBACK_URL="",
                PROCESS_CLIPS_API_FALLBACK_URL="",
                CLIPS_API_TOKEN=api.token,
                CLIPS_API_CONNECT_TIMEOUT_SECONDS=1.0,
                CLIPS_API_READ_TIMEOUT_SECONDS=10.0,
                CLIPS_API_REDIRECT_INTERVAL_SECONDS=INTERVAL,
                AWS_S3_BUCKET_NAME=BUCKET,
                AWS_REGION=REGION,
                AWS_S3_ENDPOINT_URL=store.url,
                AWS_ACCESS_KEY_ID="bench",
                AWS_SECRET_ACCESS_KEY="bench",
                AWS_S3_CONNECT_TIMEOUT_SECONDS=1.0,
                AWS_S3_READ_TIMEOUT_SECONDS=5.0,
            )
            with overrides, _Served() as served:
                bench = _Bench(api, store, served)
                for name, scenario in (
                    ("a_post_answer_lost", bench.post_answer_lost),
                    ("b_idle_timeout", bench.idle_timeout),
                    ("c_storage_outage", bench.storage_outage),
                    ("d_concurrent_reruns", bench.concurrent_reruns),
                ):
                    results[name] = {
                        "with": scenario(protected=True),
                        "without": scenario(protected=False),
                    }
                results["e_longest_request"] = {
                    "with": bench.longest_request(protected=True),
                    "without": bench.longest_request(protected=False),
                }
                results["f_cancelled_render_thread"] = {
                    "with": bench.cancelled_render(protected=True),
                    "without": bench.cancelled_render(protected=False),
                }
    finally:
        store.stop()
    _report(results)
    return {"interval_s": INTERVAL, "scale": SCALE, **results}


# --- the in-process server --------------------------------------------------------------------


class _Served:
    """Korai's WSGI app on a threaded server in this process (so the baselines' patches reach
    the steps); each /api/inngest request's start and end (time.monotonic()) are logged."""

    def __enter__(self):
        from django.core.servers.basehttp import ThreadedWSGIServer, WSGIRequestHandler
        from django.core.wsgi import get_wsgi_application

        class Quiet(WSGIRequestHandler):
            def log_message(self, *args):
                pass

        app = get_wsgi_application()
        self.requests: list[list[float]] = []  # [started, ended or 0.0]

        def logged(environ, start_response):
            if not environ["PATH_INFO"].startswith("/api/inngest"):
                return app(environ, start_response)
            entry = [time.monotonic(), 0.0]
            self.requests.append(entry)
            try:
                return list(app(environ, start_response))
            finally:
                entry[1] = time.monotonic()

        self.server = ThreadedWSGIServer(("127.0.0.1", 0), Quiet)
        self.server.daemon_threads = True
        self.server.set_app(logged)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.server.server_close()

    def until_one_is_in_flight(self, *, since: int, timeout: float = 15) -> None:
        """Wait until a request (of those from index `since` on) is being served."""
        deadline = time.monotonic() + timeout
        while not any(not end for _, end in self.requests[since:]):
            if time.monotonic() > deadline:
                raise RuntimeError("no /api/inngest request came")
            time.sleep(0.005)

    def settle(self, timeout: float = 15) -> None:
        """Wait until no request is in flight (a cut request's step still runs on)."""
        deadline = time.monotonic() + timeout
        while any(not end for _, end in self.requests) and time.monotonic() < deadline:
            time.sleep(0.05)


@contextlib.contextmanager
def _proxy(target: str):
    from tests.fakes.proxy import Proxy, _handler

    proxy = Proxy(target=target)
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(proxy))
    server.daemon_threads = True
    proxy.url = f"http://127.0.0.1:{server.server_address[1]}"
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield proxy
    finally:
        server.shutdown()
        server.server_close()


# --- the protections switched off -------------------------------------------------------------


def _no_resume():
    """A retried call step posts again: no kept result URL is ever found."""
    stack = contextlib.ExitStack()
    stack.enter_context(mock.patch("jobs.calls.pending_call", lambda *a, **k: ""))
    return stack


def _one_request_per_call():
    """The call before the `303`s were kept: one request follows them to the result, with the
    whole call's read timeout, so the step lasts the whole call (and no retry resumes it)."""
    import requests
    from django.conf import settings

    from integrations import clips_api

    real = requests.request

    def following(*args, **kwargs):
        kwargs["allow_redirects"] = True
        kwargs["timeout"] = (kwargs["timeout"][0], settings.CLIPS_API_READ_TIMEOUT_SECONDS)
        return real(*args, **kwargs)

    stack = _no_resume()
    stack.enter_context(mock.patch.object(clips_api.requests, "request", following))
    return stack


def _copies_in_the_render_step():
    """The copies made in the render step, a storage failure failing it: the render step is
    retried and renders again (the answered-lease shortcut off, so the retry calls)."""
    from exports import functions, rendering
    from exports.models import Export
    from integrations import storage

    real = functions.export_render

    def render_then_copy(**kwargs):
        rendered = real(**kwargs)
        export = Export.objects.get(pk=kwargs["export_id"])
        for index, source in rendered.get("outputs", []):
            if source:
                storage.copy_unless_same(source, export.clip_key(index))  # raises when down
        return rendered

    stack = contextlib.ExitStack()
    stack.enter_context(mock.patch.object(rendering, "render_lease_answered", lambda **k: None))
    stack.enter_context(mock.patch.object(functions, "export_render", render_then_copy))
    return stack


def _rerun_without_recheck():
    from videos import services

    real = services.job_rerun
    return mock.patch.object(
        services, "job_rerun", lambda job, *, only_if=None, **kw: real(job, **kw)
    )


def _switch(protected: bool, off):
    return contextlib.nullcontext() if protected else off()


# --- the scenarios ----------------------------------------------------------------------------


class _Bench:
    def __init__(self, api, store, served) -> None:
        self.api, self.store, self.served = api, store, served
        from tests.factories import UserFactory

        self.owner = UserFactory(username=f"bench-paid-{time.time_ns()}")

    def executor(self, base_url: str | None = None, **kwargs):
        from devtools.executor import Backoff, InngestExecutor

        return InngestExecutor(
            base_url=base_url or self.served.url,
            backoff=Backoff(scale=SCALE, jitter=False),
            **kwargs,
        )

    def fresh(self) -> None:
        self.served.settle()
        for replies in self.api._queues.values():
            replies.clear()

    def video(self, **fields):
        from tests.factories import VideoFactory

        return VideoFactory(owner=self.owner, prompt="the funny parts", **fields)

    def export(self):
        from bench.exports import _export

        return _export(self.owner, 2)

    def paid(self, endpoint: str, before: int) -> int:
        self.served.settle()
        return self.api.count(endpoint) - before

    # (a) The POST step's answer is lost after the service answered 303.
    def post_answer_lost(self, *, protected: bool) -> dict:
        from tests.fakes.clips_api import Reply

        self.fresh()
        video = self.video()
        # The call runs two intervals; later POSTs are answered at once, so a baseline pays
        # one run for each POST and no more.
        self.api.queue("identify", Reply(redirects=2))
        before = self.api.count("identify")
        with _proxy(self.served.url) as proxy, _switch(protected, _no_resume):
            proxy.forward()  # create-video-record
            proxy.cut()  # call-identify-clips-api: its answer never reaches the executor
            run = self.executor(proxy.url).run("identify-clips", identify_event(video))
        return {"paid": self.paid("identify", before), "run": run.status}

    # (b) An idle timeout in front of the steps pool shorter than the call.
    def idle_timeout(self, *, protected: bool) -> dict:
        from tests.fakes.clips_api import Reply

        self.fresh()
        video = self.video()
        # Every call takes 4 intervals (a POST held one interval, then 303s every interval).
        self.api.queue(
            "identify", Reply(redirects=CALL_INTERVALS, redirect_delay=INTERVAL), times=8
        )
        before = self.api.count("identify")
        executor = self.executor(timeout=(5, IDLE_TIMEOUT))
        with _switch(protected, _one_request_per_call):
            run = executor.run("identify-clips", identify_event(video))
        return {
            "paid": self.paid("identify", before),
            "run": run.status,
            "cut_requests": run.responses.count(None),
        }

    # (c) Storage down for a while right after the render.
    def storage_outage(self, *, protected: bool) -> dict:
        from exports.rendering import copy_retry_delay

        self.fresh()
        export = self.export()
        real_answer = self.api.process_answer
        downs = []

        def render_then_storage_goes_down(body):
            answer = real_answer(body)
            if not downs:
                downs.append(time.monotonic())
                self.store.stop()
                threading.Timer(OUTAGE, self.store.start).start()
            return answer

        sleeps = []

        def scaled_sleep(name):
            time.sleep(min(copy_retry_delay(len(sleeps)) * SCALE, 2 * OUTAGE))
            sleeps.append(name)

        before = self.api.count("process")
        executor = self.executor(on_sleep=scaled_sleep)
        try:
            self.api.process_answer = render_then_storage_goes_down
            with _switch(protected, _copies_in_the_render_step):
                run = executor.run("process-clips", process_event(export))
        finally:
            self.api.process_answer = real_answer
            while not self.store.running:
                time.sleep(0.1)
        export.refresh_from_db()
        return {
            "paid": self.paid("process", before),
            "run": run.status,
            "export": export.status,
            "waits_for_storage": len(sleeps),
            "render_attempts": run.step_attempts.get("call-process-clips-api", 0),
        }

    # (d) Four reruns of one failed video at once (admin buttons, resend_events), each event's
    # run started as its rerun commits.
    def concurrent_reruns(self, *, protected: bool) -> dict:
        from django.db import connection, transaction

        from devtools.executor import StepConcurrency
        from jobs.reruns import jobs_rerun
        from tests.fakes.clips_api import Reply
        from videos import functions as video_functions
        from videos import services
        from videos.models import Video
        from videos.services import VIDEO_JOB

        self.fresh()
        video = self.video(status=Video.Status.FAILED)
        # Each run's call takes two intervals.
        self.api.queue("identify", Reply(redirects=1, redirect_delay=INTERVAL), times=8)
        before = self.api.count("identify")
        executor = self.executor(concurrency=StepConcurrency(video_functions.identify_clips))
        real_record = services.event_record
        drivers, statuses = [], []

        def drive(event):
            try:
                payload = {"id": event.event_id, "name": event.name, "data": event.data}
                statuses.append(executor.run("identify-clips", payload).status)
            finally:
                connection.close()

        def recorded_then_run(**kwargs):
            time.sleep(0.3)  # widens the window, as tests/jobs/test_reruns.py does
            event = real_record(**kwargs)
            # Inngest starts a run as soon as the event arrives: once the rerun commits.
            driver = threading.Thread(target=drive, args=(event,))
            drivers.append(driver)
            transaction.on_commit(driver.start)
            return event

        start = threading.Barrier(RERUNS)
        ran = []

        def rerun():
            try:
                start.wait()
                done = jobs_rerun(
                    candidates=[(VIDEO_JOB, Video.objects.filter(pk=video.pk))], failed=True
                )
                ran.append(done.total)
            finally:
                connection.close()

        with (
            _switch(protected, _rerun_without_recheck),
            mock.patch.object(services, "event_record", recorded_then_run),
        ):
            threads = [threading.Thread(target=rerun) for _ in range(RERUNS)]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
        for driver in drivers:
            driver.join()
        video.refresh_from_db()
        return {
            "paid": self.paid("identify", before),
            "reruns_started": sum(ran),
            "runs": sorted(statuses),
            "video": video.status,
        }

    # (e) The longest /api/inngest request during a render of four intervals.
    def longest_request(self, *, protected: bool) -> dict:
        from tests.fakes.clips_api import Reply

        self.fresh()
        export = self.export()
        self.api.queue("process", Reply(redirects=CALL_INTERVALS, redirect_delay=INTERVAL))
        first = len(self.served.requests)
        with _switch(protected, _one_request_per_call):
            run = self.executor().run("process-clips", process_event(export))
        self.served.settle()
        durations = [end - start for start, end in self.served.requests[first:]]
        return {
            "longest_s": round(max(durations), 2),
            "requests": len(durations),
            "total_s": round(sum(durations), 2),
            "run": run.status,
        }

    # (f) A render cancelled mid-call: how long its step keeps a steps thread.
    def cancelled_render(self, *, protected: bool) -> dict:
        from django.db import connection

        from exports.models import Export
        from exports.services import export_cancel
        from tests.fakes.clips_api import Reply

        self.fresh()
        export = self.export()
        self.api.queue("process", Reply(redirects=6, redirect_delay=INTERVAL))
        cancel = threading.Event()
        executor = self.executor()
        first = len(self.served.requests)
        runs = []

        def drive():
            try:
                runs.append(executor.run("process-clips", process_event(export), cancel=cancel))
            finally:
                connection.close()

        with _switch(protected, _one_request_per_call):
            driver = threading.Thread(target=drive)
            driver.start()
            time.sleep(CANCEL_AFTER)
            # Mid-step, not in the moment between two of the run's requests.
            self.served.until_one_is_in_flight(since=first)
            export_cancel(export=Export.objects.get(pk=export.pk))  # the API's cancel
            cancelled = time.monotonic()
            cancel.set()
            driver.join()
            self.served.settle()
        in_flight = [
            end for start, end in self.served.requests[first:] if start <= cancelled <= end
        ]
        export.refresh_from_db()
        return {
            "thread_kept_s": round(max(in_flight) - cancelled, 2) if in_flight else 0.0,
            "run": runs[0].status if runs else "?",
            "export": export.status,
        }


def _report(results: dict) -> None:
    from integrations.clips_api import REQUEST_MARGIN_SECONDS

    rows = {
        "a_post_answer_lost": "a. POST step's answer lost after the 303 (proxy cut)",
        "b_idle_timeout": f"b. idle timeout {IDLE_TIMEOUT:g} s < call {CALL_INTERVALS:g} s",
        "c_storage_outage": f"c. storage down {OUTAGE:g} s (60 s scaled) after the render",
        "d_concurrent_reruns": f"d. {RERUNS} concurrent reruns of one failed video",
    }
    lines = [
        "| fault | paid with | paid without | target with | |",
        "|---|---|---|---|---|",
    ]
    for key, title in rows.items():
        paid_with = results[key]["with"]["paid"]
        paid_without = results[key]["without"]["paid"]
        met = "met" if paid_with == 1 else "MISSED"
        lines.append(f"| {title} | {paid_with} | {paid_without} | 1 | {met} |")
    longest = results["e_longest_request"]
    target = INTERVAL + REQUEST_MARGIN_SECONDS
    met = "met" if longest["with"]["longest_s"] <= target else "MISSED"
    lines.append(
        f"| e. longest /api/inngest request, render of {CALL_INTERVALS} intervals of "
        f"{INTERVAL:g} s | {longest['with']['longest_s']} s | {longest['without']['longest_s']} s"
        f" | ≤ {target:g} s | {met} |"
    )
    kept = results["f_cancelled_render_thread"]
    lines.append(
        "| f. cancel mid-render → the step's request returns (Django side) | "
        f"{kept['with']['thread_kept_s']} s | {kept['without']['thread_kept_s']} s | reported | |"
    )
    report("GPU runs paid per job, with and without Korai's protections", lines)


if __name__ == "__main__":
    main()
