"""/metrics under gunicorn with two workers (deploy/gunicorn/api.py, multiprocess mode through
korai/gunicorn.py): whichever worker answers the scrape, it reports every worker's requests, and
the same job counts."""

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests
from django.db import connection

from tests.factories import VideoFactory
from tests.metrics import samples, value

pytestmark = pytest.mark.django_db(transaction=True)

ROOT = Path(__file__).resolve().parents[2]
HEALTHZ = "django_http_requests_total_by_view_transport_method_total"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def database_url() -> str:
    """The test database, for the server process to share."""
    db = connection.settings_dict
    if connection.vendor == "sqlite":
        return f"sqlite:///{db['NAME']}"
    user = db["USER"] or "postgres"
    return f"postgres://{user}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"


@pytest.fixture
def gunicorn(tmp_path):
    port = free_port()
    env = {
        "PATH": os.environ["PATH"],
        "DJANGO_SETTINGS_MODULE": "korai.settings.production",
        "DJANGO_SECRET_KEY": "tests-only-" + "x" * 50,
        "DJANGO_SECURE_SSL_REDIRECT": "0",
        "DJANGO_ALLOWED_HOSTS": "127.0.0.1",
        "DATABASE_URL": database_url(),
        "INNGEST_EVENT_KEY": "test-event-key",
        "INNGEST_SIGNING_KEY": "signkey-test-" + "ab" * 32,
        "PROMETHEUS_MULTIPROC_DIR": str(tmp_path),
        "KORAI_ROLE": "all",
        "KORAI_API_BIND": f"127.0.0.1:{port}",
        "KORAI_API_WORKERS": "2",
        "KORAI_API_THREADS": "2",
    }
    process = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "-c", "deploy/gunicorn/api.py", "korai.wsgi"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            assert process.poll() is None, "gunicorn exited"
            try:
                # Not /healthz/: the test counts those (a probe that timed out here could still
                # be served later).
                if requests.get(base + "/metrics", timeout=5).status_code == 200:
                    break
            except requests.RequestException:
                pass
            assert time.monotonic() < deadline, "gunicorn did not start"
            time.sleep(0.2)
        yield base, tmp_path / "all"  # the pool's own subdirectory
    finally:
        process.terminate()
        process.wait(timeout=30)


def test_every_scrape_reports_all_workers(gunicorn):
    base, directory = gunicorn
    VideoFactory.create_batch(2)
    first = samples(requests.get(base + "/metrics", timeout=10).text)
    for _ in range(40):
        # A new connection each time: the workers take turns accepting them.
        assert requests.get(base + "/healthz/", timeout=10).status_code == 200

    scrapes = [samples(requests.get(base + "/metrics", timeout=10).text) for _ in range(6)]
    assert value(first, HEALTHZ, view="healthz") == 0
    assert {value(s, HEALTHZ, view="healthz") for s in scrapes} == {40}
    assert {value(s, "korai_jobs", kind="video", status="pending") for s in scrapes} == {2}
    # Both workers counted requests: each keeps its own files.
    pids = {path.stem.rsplit("_", 1)[-1] for path in directory.glob("counter_*.db")}
    assert len(pids) == 2
