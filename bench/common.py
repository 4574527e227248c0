"""Shared plumbing for the benchmarks: the database, a gunicorn server, wrk, percentiles."""

import contextlib
import os
import re
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path

import psycopg
import requests

ROOT = Path(__file__).resolve().parent.parent
PYTHON = sys.executable
BENCH_SETTINGS = "bench.settings"


def setup_django(*, fresh: bool = False) -> None:
    """Point Django at the benchmark settings and database, creating (or, `fresh`, recreating)
    and migrating it. Safe to call again in the same process."""
    os.environ["DJANGO_SETTINGS_MODULE"] = BENCH_SETTINGS
    sys.path.insert(0, str(ROOT))
    import django
    from django.apps import apps

    if apps.ready:
        return
    _ensure_postgres_database(fresh=fresh)
    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)


def _ensure_postgres_database(*, fresh: bool) -> None:
    import bench.settings  # noqa: F401  (sets DATABASE_URL from BENCH_DATABASE_URL)

    url = os.environ["DATABASE_URL"]
    if not url.startswith("postgres"):
        raise SystemExit("The benchmarks measure PostgreSQL: BENCH_DATABASE_URL=postgres://…")
    name = url.rsplit("/", 1)[1]
    admin_url = url.rsplit("/", 1)[0] + "/postgres"
    with psycopg.connect(admin_url, autocommit=True) as conn:
        if fresh:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone()
        if not exists:
            conn.execute(f'CREATE DATABASE "{name}"')


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextlib.contextmanager
def gunicorn(*, workers: int = 2, env: dict | None = None):
    """Serve Korai (bench settings) with gunicorn on 127.0.0.1; yields the base URL."""
    port = free_port()
    process = subprocess.Popen(
        [
            PYTHON, "-m", "gunicorn", "bench.wsgi:application",
            "--workers", str(workers), "--bind", f"127.0.0.1:{port}",
            "--log-level", "warning", "--timeout", "60",
        ],
        cwd=ROOT,
        env={**os.environ, "DJANGO_SETTINGS_MODULE": BENCH_SETTINGS, **(env or {})},
    )  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    try:
        wait_until_up(f"{base}/healthz/", process)
        yield base
    finally:
        process.terminate()
        process.wait(timeout=30)


def wait_until_up(url: str, process: subprocess.Popen, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"gunicorn exited with {process.returncode}")
        with contextlib.suppress(requests.RequestException):
            if requests.get(url, timeout=1).status_code == 200:
                return
        time.sleep(0.2)
    raise RuntimeError(f"{url} did not come up within {timeout}s")


def wrk(url: str, *, headers: dict | None = None, seconds: int = 10, connections: int = 16) -> dict:
    """Run wrk against one URL; returns requests/s and p50/p99 latency in milliseconds."""
    command = ["wrk", "-t2", f"-c{connections}", f"-d{seconds}s", "--latency", url]
    for name, value in (headers or {}).items():
        command += ["-H", f"{name}: {value}"]
    output = subprocess.run(command, capture_output=True, text=True, check=True).stdout
    if "Non-2xx or 3xx responses" in output:
        raise RuntimeError(f"wrk saw error responses from {url}:\n{output}")
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", output).group(1))
    return {
        "rps": rps,
        "p50_ms": _wrk_latency(output, "50%"),
        "p99_ms": _wrk_latency(output, "99%"),
    }


def _wrk_latency(output: str, label: str) -> float:
    value, unit = re.search(rf"^\s+{label}\s+([\d.]+)(us|ms|s)\s*$", output, re.M).groups()
    return float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]


def percentile(samples: list[float], pct: float) -> float:
    ordered = sorted(samples)
    if len(ordered) == 1:
        return ordered[0]
    return statistics.quantiles(ordered, n=100, method="inclusive")[int(pct) - 1]


def report(title: str, lines: list[str]) -> str:
    text = "\n".join([f"## {title}", *lines, ""])
    print(text, flush=True)
    return text


# --- the events that start the jobs -----------------------------------------------------------
# As videos.services.identify_event and exports.services.process_event write them, here rather
# than imported: bench/compare.py runs this code against older revisions, which may lack them.


def identify_event(video) -> dict:
    return {
        "name": "video/identify.clips",
        "data": {
            "videoId": str(video.id),
            "youtubeUrl": video.youtube_url,
            "prompt": video.prompt,
            "userId": str(video.owner_id),
        },
    }


def process_event(export) -> dict:
    return {
        "name": "clips/process",
        "data": {
            "exportId": str(export.id),
            "videoId": str(export.video_id),
            "s3Key": export.video.s3_key,
            "selectedClips": [
                {"start": r["start"], "end": r["end"]} for r in export.selected_ranges
            ],
            "targetLanguage": export.target_language,
            "aspectRatio": export.aspect_ratio,
            "userId": str(export.owner_id),
        },
    }
