"""Long steps in flight never starve the API.

100 identify-clips runs whose clips-API call takes 10 s are started together (the executor
drives each run through /api/inngest over HTTP, in parallel threads, as Inngest would with a
concurrency limit of 100), while a poller (a process of its own) reads one video's status
endpoint over and over.

Measured side by side, on PostgreSQL, for two deployments of the same code:
- one pool: gunicorn gthread 4 workers x 8 threads serving everything (the single-pool design),
  with 64 runs (see main);
- split pools: the api pool (4 x 8, KORAI_ROLE=api) and the steps pool (2 x 416,
  KORAI_ROLE=steps, pooled DB connections, niced below the API; each worker's 416 threads
  hold every step the benchmark's limits allow at once, as korai/capacity.py asks), as
  deploy/gunicorn/ configures them.

Targets (split pools, the median of 3 passes on one deployment): wall time / one call <= 1.5;
status poll p99 during the runs <= 2 x its idle p99. The peak RSS of all the service's
processes is reported."""

import contextlib
import multiprocessing
import os
import statistics
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import requests

from bench.common import (
    BENCH_SETTINGS,
    PYTHON,
    ROOT,
    free_port,
    identify_event,
    percentile,
    report,
    setup_django,
    wait_until_up,
)

CALL_SECONDS = 10.0
TARGET_WALL = 1.5
# Passes of the split pools, one deployment: on this 2-core VM one pass's figures move by a
# third between runs (poll ratio 0.7-2.1, wall 1.4-1.6, the same code); their median does not.
PASSES = 3
TARGET_POLL = 2.0


def main(runs: int = 100, call_seconds: float = CALL_SECONDS, one_pool_runs: int = 64) -> dict:
    """`runs` against the split pools (the targets); the one-pool baseline gets `one_pool_runs`:
    twice its 32 threads shows the queueing (and the frozen polls) as 100 would, in half the
    time: 100 took a minute, a fifth of the 5-minute budget."""
    setup_django()
    from tests.fakes.clips_api import FakeClipsAPI

    class SlowClipsAPI(FakeClipsAPI):
        """Every identify call takes `call_seconds`, as a GPU service would."""

        def _reply_for(self, endpoint, body):
            reply = super()._reply_for(endpoint, body)
            if endpoint == "identify":
                reply.hang = call_seconds
            return reply

    with SlowClipsAPI(clips=5, token="bench-clips-token") as clips_api:
        clips_api._server.socket.listen(1024)  # all runs connect at once
        env = {
            "CLIPS_API_URL": clips_api.identify_url,
            "PROCESS_CLIPS_API_URL": clips_api.process_url,
            "CLIPS_API_TOKEN": clips_api.token,
            "INNGEST_DEV": "",
            "INNGEST_CONCURRENCY_GLOBAL": str(runs),
            "INNGEST_CONCURRENCY_PER_USER": str(runs),
        }
        owner, token, polled = _fixtures()
        results = {}
        # one_pool_runs=0: the split pools alone (bench/compare.py measures only the targets).
        designs = [("one_pool", one_pool_runs)] if one_pool_runs else []
        for design, count in [*designs, ("split_pools", runs)]:
            with _deployment(design, env) as (api_url, steps_url, pids):
                passes = [
                    _measure(count, call_seconds, api_url, steps_url, pids, owner, token, polled)
                    for _ in range(PASSES if design == "split_pools" else 1)
                ]
            results[design] = _median_of(passes)
    split = results["split_pools"]
    designs = [("one pool 4x8", results.get("one_pool")), ("split pools", split)]
    report(
        f"Steps in flight: identify runs, clips API call {call_seconds:g} s each",
        [
            "| | runs | wall | wall / call | poll p99 idle | poll p99 during | ratio | worst poll"
            " | peak RSS |",
            "|---|---|---|---|---|---|---|---|---|",
            *(
                f"| {name} | {r['runs']} | {r['wall_s']:.1f} s | {r['wall_ratio']:.2f} | "
                f"{r['poll_idle_p99_ms']:.1f} ms | {r['poll_busy_p99_ms']:.1f} ms | "
                f"{r['poll_ratio']:.2f} | {r['poll_busy_max_ms']:.0f} ms | "
                f"{r['peak_rss_mb']:.0f} MB |"
                for name, r in designs
                if r is not None
            ),
            f"split pools, median of {len(split['passes'])} passes (wall / call, poll ratio: "
            + ", ".join(f"{wall:.2f} {poll:.2f}" for wall, poll in split["passes"])
            + f"): wall / call {split['wall_ratio']:.2f} (target <= {TARGET_WALL}) "
            f"{'MET' if split['wall_ratio'] <= TARGET_WALL else 'MISSED'}; poll p99 ratio "
            f"{split['poll_ratio']:.2f} (target <= {TARGET_POLL}) "
            f"{'MET' if split['poll_ratio'] <= TARGET_POLL else 'MISSED'}",
        ],
    )
    return results


def _fixtures():
    from rest_framework.authtoken.models import Token

    from tests.factories import UserFactory, VideoFactory

    owner = UserFactory(username=f"bench-inflight-{time.time_ns()}")
    token = Token.objects.create(user=owner).key
    return owner, token, VideoFactory(owner=owner)


def _median_of(passes: list[dict]) -> dict:
    """Each figure's median over the passes (the peak RSS: the highest), and every pass's
    two ratios."""
    merged = {key: statistics.median(p[key] for p in passes) for key in passes[0]}
    merged["peak_rss_mb"] = max(p["peak_rss_mb"] for p in passes)
    merged["passes"] = [[p["wall_ratio"], p["poll_ratio"]] for p in passes]
    return merged


@contextlib.contextmanager
def _deployment(design: str, env: dict):
    """Gunicorn as the README deploys it: yields the API's and the steps' base URLs and the
    service's process ids."""
    pools = (
        # The steps pool: deploy/gunicorn/steps.py's 2 workers, each with threads for every
        # step Inngest may send at once (it refuses to start otherwise: korai/capacity.py
        # counts each function at the benchmark's INNGEST_CONCURRENCY_GLOBAL).
        [("all", "4", "8")] if design == "one_pool" else [("api", "4", "8"), ("steps", "2", "416")]
    )
    processes, urls = [], {}
    try:
        for role, workers, threads in pools:
            port = free_port()
            config = "steps" if role == "steps" else "api"
            process = subprocess.Popen(
                [
                    PYTHON, "-m", "gunicorn", "bench.wsgi:application",
                    "-c", f"deploy/gunicorn/{config}.py", "--bind", f"127.0.0.1:{port}",
                    "--log-level", "warning",
                ],
                cwd=ROOT,
                env={
                    **os.environ, **env, "DJANGO_SETTINGS_MODULE": BENCH_SETTINGS,
                    "KORAI_ROLE": role, f"KORAI_{config.upper()}_WORKERS": workers,
                    f"KORAI_{config.upper()}_THREADS": threads,
                },
            )  # fmt: skip
            processes.append(process)
            urls[role] = f"http://127.0.0.1:{port}"
            wait_until_up(f"{urls[role]}/healthz/", process, timeout=60)
        api_url = urls.get("all") or urls["api"]
        steps_url = urls.get("all") or urls["steps"]
        yield api_url, steps_url, [p.pid for p in processes]
    finally:
        for process in processes:
            process.terminate()
        for process in processes:
            process.wait(timeout=30)


def _measure(runs, call_seconds, api_url, steps_url, pids, owner, token, polled) -> dict:
    from tests.factories import VideoFactory

    videos = [VideoFactory(owner=owner) for _ in range(runs)]
    status_url = f"{api_url}/api/videos/{polled.id}/status/"
    headers = {"Authorization": f"Token {token}"}
    # The poller is a process of its own: as a thread here it would wait for this process's
    # GIL behind the executor's 100 threads, and time the load generator, not the service.
    spawn = multiprocessing.get_context("spawn")
    stop, (receiver, sender) = spawn.Event(), spawn.Pipe(duplex=False)
    poller = spawn.Process(target=_poller, args=(status_url, headers, stop, sender))
    poller.start()
    idle = receiver.recv()  # its idle samples: the runs start after them
    rss = _RssSampler(pids)
    rss.start()
    started = time.monotonic()
    with ThreadPoolExecutor(max_workers=runs) as pool:
        outcomes = list(pool.map(lambda v: _identify(steps_url, v), videos))
    wall = time.monotonic() - started
    stop.set()
    busy = receiver.recv()
    poller.join()
    rss.stop()
    failed = [o for o in outcomes if o != "completed"]
    if failed:
        raise RuntimeError(f"{len(failed)} of {runs} runs did not complete: {failed[:3]}")
    idle_p99, busy_p99 = percentile(idle, 99), percentile(busy, 99)
    return {
        "runs": runs,
        "wall_s": wall,
        "wall_ratio": wall / call_seconds,
        "poll_idle_p99_ms": idle_p99,
        "poll_idle_median_ms": statistics.median(idle),
        "poll_busy_p99_ms": busy_p99,
        "poll_busy_max_ms": max(busy),
        "poll_busy_samples": len(busy),
        "poll_ratio": busy_p99 / idle_p99,
        "peak_rss_mb": rss.peak_mb,
    }


_local = threading.local()


def _identify(steps_url: str, video) -> str:
    from devtools.executor import InngestExecutor

    if getattr(_local, "executor", None) is None:
        _local.executor = InngestExecutor(base_url=steps_url)
    run = _local.executor.run("identify-clips", identify_event(video))
    return run.status


def _poll(url, headers, *, seconds: float | None = None, stop=None) -> list[float]:
    """Latencies (ms) of back-to-back status polls, one at a time, for `seconds` or until
    `stop` is set."""
    session = requests.Session()
    session.trust_env = False
    samples, deadline = [], time.monotonic() + (seconds or 1e9)
    while time.monotonic() < deadline and not (stop and stop.is_set()):
        started = time.perf_counter()
        response = session.get(url, headers=headers, timeout=120)
        samples.append((time.perf_counter() - started) * 1000)
        response.raise_for_status()
        time.sleep(0.02)
    return samples


def _poller(url, headers, stop, sender) -> None:
    """The poller's process: polls idle (after a warm-up of every worker's token cache and
    connection) and sends those samples, then polls until `stop` and sends those."""
    _poll(url, headers, seconds=2)
    # About as many samples as the ~15 s of runs give: the two p99s are then alike estimates.
    sender.send(_poll(url, headers, seconds=10))
    sender.send(_poll(url, headers, stop=stop))


class _RssSampler(threading.Thread):
    """The summed resident memory of the service's processes (gunicorn masters and their
    workers), sampled every 0.2 s; keeps the peak."""

    def __init__(self, pids: list[int]) -> None:
        super().__init__(daemon=True)
        self.pids, self.peak_mb, self._stop_event = pids, 0.0, threading.Event()

    def run(self) -> None:
        while not self._stop_event.wait(0.2):
            self.peak_mb = max(self.peak_mb, self._sample_mb())

    def stop(self) -> None:
        self._stop_event.set()
        self.join()

    def _sample_mb(self) -> float:
        total_kb = 0
        for pid in self._family():
            with contextlib.suppress(OSError):
                for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                    if line.startswith("VmRSS:"):
                        total_kb += int(line.split()[1])
        return total_kb / 1024

    def _family(self) -> set[int]:
        family = set(self.pids)
        for pid in self.pids:
            with contextlib.suppress(OSError):
                children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
                family.update(int(child) for child in children)
        return family


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 100)
