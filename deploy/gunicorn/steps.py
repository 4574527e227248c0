"""gunicorn settings of the steps pool: /api/inngest only.

    KORAI_ROLE=steps gunicorn korai.wsgi -c deploy/gunicorn/steps.py

korai.wsgi loads korai.settings.production unless DJANGO_SETTINGS_MODULE names another module;
KORAI_ROLE=steps (set here) gives it the steps role's URLconf, middleware and pooled database
connections (korai/settings/roles.py).

A step that calls a clips API holds its thread until the API answers (minutes for a GPU
render), so this pool has many threads, mostly asleep on a socket, and none of them is a
thread the REST API needs. Threads waiting on a clips API hold no database connection either
(integrations/clips_api.py releases it first), so the pool's size is not bounded by PostgreSQL's
max_connections. With gthread, --timeout watches the worker's heartbeat, not the request.

It runs at a lower CPU priority than the api pool (KORAI_STEPS_NICE, 10).

At start-up the pool refuses to run if Inngest's concurrency limits allow more steps at once
than ONE worker has threads (korai/capacity.py): gunicorn may hand them all to one worker.
"""

import os
import sys

from gunicorn.config import ControlSocket

# Loopback, behind the proxy, as the api pool (deploy/gunicorn/api.py).
bind = os.environ.get("KORAI_STEPS_BIND", "127.0.0.1:8001")
control_socket = os.environ.get("KORAI_STEPS_CONTROL_SOCKET") or os.path.join(
    os.path.dirname(ControlSocket.default), "korai-steps.ctl"
)
worker_class = "gthread"
workers = int(os.environ.get("KORAI_STEPS_WORKERS", "2"))
threads = int(os.environ.get("KORAI_STEPS_THREADS", "64"))
timeout = 60
raw_env = ["KORAI_ROLE=steps"]


def on_starting(server):
    # Prometheus multiprocess mode (docs/monitoring.md): before django.setup() imports
    # prometheus_client, and before any worker starts.
    from korai.gunicorn import prepare_metrics_directory

    prepare_metrics_directory("steps")
    # Below the API on a host both pools share: a burst of steps (signatures, JSON, database
    # writes) then delays a status poll by little, while a step, which waits minutes on a GPU
    # anyway, loses a few milliseconds (bench/inflight.py). Workers inherit it. 0: no change.
    os.nice(int(os.environ.get("KORAI_STEPS_NICE", "10")))
    os.environ["KORAI_ROLE"] = "steps"
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "korai.settings.production")
    os.environ.setdefault("DJANGO_READ_DOT_ENV", "0")
    import django

    django.setup()
    from korai.capacity import capacity_problem
    from korai.urls import FUNCTIONS

    problem = capacity_problem(FUNCTIONS, threads=server.cfg.threads)
    if problem:
        print(problem, file=sys.stderr, flush=True)
        sys.exit(1)


def child_exit(server, worker):
    from korai.gunicorn import worker_exited

    worker_exited(worker)
