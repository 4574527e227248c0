"""Prometheus with several gunicorn workers: the hooks deploy/gunicorn/{api,steps}.py call.

Each worker counts its own requests, steps and API calls. prometheus_client's multiprocess mode
keeps them in files under PROMETHEUS_MULTIPROC_DIR, one set per worker, and /metrics adds every
worker's files up, so a scrape answered by any worker reports its whole pool. Each pool (api,
steps) is its own gunicorn server and keeps its own subdirectory: `<PROMETHEUS_MULTIPROC_DIR>/
<pool>`, or a fresh temporary directory when the variable is unset. It is emptied when the pool
starts (stale files would be added in) and set in the master before any worker imports
prometheus_client."""

import os
import shutil
import tempfile


def prepare_metrics_directory(pool: str) -> str:
    base = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    directory = os.path.join(base, pool) if base else tempfile.mkdtemp(prefix=f"korai-{pool}-")
    shutil.rmtree(directory, ignore_errors=True)
    os.makedirs(directory)
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = directory
    return directory


def worker_exited(worker) -> None:
    # A dead worker's live gauges go; its counters stay, so totals never go backwards.
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid)
