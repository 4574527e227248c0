"""Cancellation: time from the cancel request to the function stopping, with the development
executor.

Korai runs in gunicorn (bench settings, PostgreSQL); its events go nowhere (the Inngest event
API is a closed port), so they wait in the outbox, where the development executor
(`devtools.dev_executor`, in this process, polling every 0.5 s as `manage.py dev_executor` does)
takes them and drives the runs through /api/inngest. The clips sandbox's identify call takes
CALL_SECONDS. Each round: submit a video (`POST /api/videos/`), wait until its identify call
has been in flight for CANCEL_AFTER seconds (plus 0.1 s more each round, so the cancels fall at
different points of the executor's poll), then cancel it (`POST /api/videos/{id}/cancel/`).

Measured per round, from the cancel request:
- the executor stops the run (the `video/identify.cancelled` event reached it via the outbox);
- the function stopped: its run ended as cancelled. As with Inngest, the step in flight (the
  identify call) finishes first, so this includes the rest of that call; "after the step"
  is the time from the step's answer to the end of the run.
Checked: every run ended `cancelled`, no step was requested after the in-flight one, the video
answers `cancelled` and has no clips."""

import sys
import threading
import time
import uuid

import requests

from bench.common import free_port, gunicorn, percentile, report, setup_django

CALL_SECONDS = 3.0
CANCEL_AFTER = 1.0
POLL_SECONDS = 0.5  # the dev_executor command's default --poll
CANCEL_EVENT = "video/identify.cancelled"
SAVE_STEP = "save-clips-to-database"


def main(rounds: int = 5) -> dict:
    setup_django()
    from rest_framework.authtoken.models import Token

    from devtools.sandbox import SandboxConfig, SandboxServer
    from tests.factories import UserFactory

    owner = UserFactory(username=f"bench-cancel-{time.time_ns()}")
    headers = {"Authorization": f"Token {Token.objects.create(user=owner).key}"}
    sandbox = SandboxServer(
        SandboxConfig(token="bench-clips-token", latency=CALL_SECONDS), port=free_port()
    )
    threading.Thread(target=sandbox.serve_forever, daemon=True).start()
    env = {
        "CLIPS_API_URL": f"{sandbox.base_url}/identify-clips",
        "PROCESS_CLIPS_API_URL": f"{sandbox.base_url}/process-clips",
        "CLIPS_API_TOKEN": "bench-clips-token",
        "INNGEST_DEV": "",
        # Nothing listens there: each event stays in the outbox for the executor.
        "INNGEST_BASE_URL": f"http://127.0.0.1:{free_port()}",
    }
    try:
        with gunicorn(workers=3, env=env) as base:
            dev = _dev_executor(base, owner)
            stop = threading.Event()
            server = threading.Thread(
                target=dev.serve, kwargs={"stop": stop, "poll_interval": POLL_SECONDS}
            )
            server.start()
            try:
                samples = [_round(n, base, headers, dev) for n in range(rounds)]
            finally:
                stop.set()
                server.join()
                dev.close()
    finally:
        sandbox.shutdown()
        sandbox.server_close()
    if not samples[0]:
        report("Cancellation", ["not measured: POST /api/videos/{id}/cancel/ does not exist"])
        return {"measured": False}
    figures = {
        name: {
            "median_ms": percentile([s[name] for s in samples], 50) * 1000,
            "max_ms": max(s[name] for s in samples) * 1000,
        }
        for name in ("seen_s", "stopped_s", "after_step_s")
    }
    report(
        f"Cancellation: {rounds} identify runs, cancelled {CANCEL_AFTER:g}+ s into a "
        f"{CALL_SECONDS:g} s clips call (development executor, outbox polled every "
        f"{POLL_SECONDS:g} s)",
        [
            f"cancel -> executor stops the run:  median {figures['seen_s']['median_ms']:.0f} ms,"
            f" max {figures['seen_s']['max_ms']:.0f} ms",
            f"cancel -> function stopped:        median {figures['stopped_s']['median_ms']:.0f} ms,"
            f" max {figures['stopped_s']['max_ms']:.0f} ms (the in-flight call had "
            f"{CALL_SECONDS - CANCEL_AFTER - (rounds - 1) / 10:g}-{CALL_SECONDS - CANCEL_AFTER:g} s"
            " left)",
            f"in-flight step answered -> stopped: median "
            f"{figures['after_step_s']['median_ms']:.0f} ms, max "
            f"{figures['after_step_s']['max_ms']:.0f} ms",
            f"every run cancelled, no step after the cancel, videos cancelled with 0 clips: "
            f"{all(s['clean'] for s in samples)}",
        ],
    )
    return {
        "measured": True,
        "rounds": rounds,
        "call_seconds": CALL_SECONDS,
        "cancel_after_seconds": CANCEL_AFTER,
        "poll_seconds": POLL_SECONDS,
        "cancel_to_executor_stop_ms": figures["seen_s"],
        "cancel_to_function_stopped_ms": figures["stopped_s"],
        "in_flight_step_answer_to_stopped_ms": figures["after_step_s"],
        "all_clean": all(s["clean"] for s in samples),
    }


def _dev_executor(base: str, owner):
    from devtools.dev_executor import DevExecutor
    from devtools.executor import InngestExecutor
    from outbox.delivery import event_payload, events_mark_delivered
    from outbox.selectors import events_undelivered
    from videos.models import Video

    class TimedExecutor(InngestExecutor):
        """Records each request of a run: when sent and answered, and which steps it ran."""

        def __init__(self, **kwargs) -> None:
            super().__init__(**kwargs)
            self.calls: dict[str, list[dict]] = {}

        def post(self, body, *, params, **kwargs):
            call = {"sent": time.monotonic(), "answered": None, "steps": []}
            self.calls.setdefault(body["event"]["data"].get("videoId"), []).append(call)
            response = super().post(body, params=params, **kwargs)
            call["answered"] = time.monotonic()
            if response.status_code == 206:
                call["steps"] = [op.get("displayName") or op.get("name") for op in response.json()]
            return response

    class TimedDevExecutor(DevExecutor):
        """The development executor, noting when a cancel reaches it and when each run ends;
        it takes only this benchmark's events (earlier benchmarks leave undelivered ones)."""

        def __init__(self, **kwargs) -> None:
            super().__init__(**kwargs)
            self.cancel_seen: dict[str, float] = {}
            self.ended: dict[str, tuple[float, object]] = {}

        def poll_once(self) -> int:
            from django.db import close_old_connections

            close_old_connections()
            rows = list(events_undelivered(jobs=[Video.objects.filter(owner=owner)])[:50])
            if rows:
                events_mark_delivered(ids=[row.pk for row in rows])
            for row in rows:
                self.dispatch(event_payload(row))
            return len(rows)

        def dispatch(self, event):
            if event["name"] == CANCEL_EVENT:
                self.cancel_seen[event["data"]["videoId"]] = time.monotonic()
            return super().dispatch(event)

        def _drive(self, active):
            run = super()._drive(active)
            self.ended[active.event["data"]["videoId"]] = (time.monotonic(), run)
            return run

    return TimedDevExecutor(executor=TimedExecutor(base_url=base, timeout=(5, 60)), workers=4)


def _round(n: int, base: str, headers: dict, dev) -> dict | None:
    session = requests.Session()
    session.trust_env = False
    submitted = session.post(
        f"{base}/api/videos/",
        json={"youtube_url": f"https://youtu.be/{uuid.uuid4().hex[:11]}"},
        headers=headers,
        timeout=30,
    )
    submitted.raise_for_status()
    video_id = submitted.json()["id"]
    calls = dev.executor.calls
    # The identify call is the request in flight after create-video-record's.
    deadline = time.monotonic() + 60
    while True:
        made = calls.get(video_id, [])
        in_flight = [c for c in made[1:] if c["answered"] is None]
        if in_flight and time.monotonic() - in_flight[0]["sent"] >= CANCEL_AFTER + n / 10:
            break
        if time.monotonic() > deadline:
            raise RuntimeError(f"the identify call of {video_id} never started: {made}")
        time.sleep(0.01)
    cancelled_at = time.monotonic()
    answer = session.post(f"{base}/api/videos/{video_id}/cancel/", headers=headers, timeout=30)
    if answer.status_code in (404, 405):  # no cancellation in this build
        _wait_for(lambda: video_id in dev.ended)
        return None
    if answer.status_code != 202:
        raise RuntimeError(f"cancel answered {answer.status_code}: {answer.text}")
    _wait_for(lambda: video_id in dev.ended)
    ended_at, run = dev.ended[video_id]
    # The engine gives a cancelled run up at once (the server abandons its request): the step
    # in flight still answers on the Django side when its call ends.
    _wait_for(lambda: in_flight[0]["answered"] is not None)
    step_answered = in_flight[0]["answered"]
    after = [c for c in calls[video_id] if c["sent"] > step_answered]
    status = session.get(f"{base}/api/videos/{video_id}/status/", headers=headers, timeout=30)
    from clips.models import Clip

    clean = (
        run is not None
        and run.status == "cancelled"
        and not after
        and not any(SAVE_STEP in c["steps"] for c in calls[video_id])
        and status.json()["processing_status"] == "cancelled"
        and not Clip.objects.filter(video_id=video_id).exists()
    )
    return {
        "seen_s": dev.cancel_seen.get(video_id, ended_at) - cancelled_at,
        "stopped_s": ended_at - cancelled_at,
        "after_step_s": ended_at - step_answered,
        "clean": clean,
    }


def _wait_for(condition, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise RuntimeError("timed out")
        time.sleep(0.005)


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 5)
