"""gunicorn settings for Prometheus with several workers:

    gunicorn -c python:korai.gunicorn korai.wsgi --worker-class gthread --workers 4 --threads 8

Each worker counts its own requests, steps and API calls. prometheus_client's multiprocess
mode keeps them in files under PROMETHEUS_MULTIPROC_DIR (one set per worker), and /metrics adds
every worker's files up, so a scrape answered by any worker reports the whole server. The
directory must be empty when the server starts (stale files would be added in) and must be set
before any worker imports prometheus_client: both happen here, in the master. Without
PROMETHEUS_MULTIPROC_DIR in the environment a fresh temporary directory is used."""

import os
import shutil
import tempfile

_directory = os.environ.get("PROMETHEUS_MULTIPROC_DIR") or tempfile.mkdtemp(prefix="korai-metrics-")
os.environ["PROMETHEUS_MULTIPROC_DIR"] = _directory


def on_starting(server) -> None:
    # Files left by an earlier run would be counted again.
    shutil.rmtree(_directory, ignore_errors=True)
    os.makedirs(_directory, exist_ok=True)


def child_exit(server, worker) -> None:
    # A dead worker's live gauges go; its counters stay, so totals never go backwards.
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid)
