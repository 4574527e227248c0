"""gunicorn settings of the api pool: the REST API, the admin and the static files.

    KORAI_ROLE=api gunicorn korai.wsgi -c deploy/gunicorn/api.py

korai.wsgi loads korai.settings.production unless DJANGO_SETTINGS_MODULE names another module.

Requests here are short (a status poll is one query), so a few threads per worker go far.
/api/inngest is not served here: the proxy routes it to the steps pool (deploy/gunicorn/steps.py).
"""

import os

from gunicorn.config import ControlSocket

# Loopback: only the buffering proxy in front may connect. gthread reads a request's headers in
# a worker thread, so clients sending them slowly would hold every thread (docs/deploying.md).
bind = os.environ.get("KORAI_API_BIND", "127.0.0.1:8000")
# Its own control socket (gunicornc -s): gunicorn's one default path would be taken over by
# whichever pool starts last, and removed by whichever stops first.
control_socket = os.environ.get("KORAI_API_CONTROL_SOCKET") or os.path.join(
    os.path.dirname(ControlSocket.default), "korai-api.ctl"
)
worker_class = "gthread"
workers = int(os.environ.get("KORAI_API_WORKERS", "4"))
threads = int(os.environ.get("KORAI_API_THREADS", "8"))
timeout = 60
# KORAI_ROLE=all serves /api/inngest here too (one pool for everything, small deployments).
raw_env = [f"KORAI_ROLE={os.environ.get('KORAI_ROLE', 'api')}"]


def on_starting(server):
    # Prometheus multiprocess mode (docs/monitoring.md): before any worker starts.
    from korai.gunicorn import prepare_metrics_directory

    prepare_metrics_directory(os.environ.get("KORAI_ROLE", "api"))


def child_exit(server, worker):
    from korai.gunicorn import worker_exited

    worker_exited(worker)
