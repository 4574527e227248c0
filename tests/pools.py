"""The gunicorn pools of deploy/gunicorn/ started for real, in production settings, by tests
that need the service as it is deployed (a process of its own, its workers, its signals)."""

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parents[1]
# Production settings over plain HTTP on 127.0.0.1, with test keys.
PRODUCTION_ENV = {
    "PATH": os.environ["PATH"],
    "DJANGO_SETTINGS_MODULE": "korai.settings.production",
    "DJANGO_READ_DOT_ENV": "0",
    "DJANGO_SECRET_KEY": "tests-only-" + "x" * 50,
    "DJANGO_SECURE_SSL_REDIRECT": "0",
    "DJANGO_ALLOWED_HOSTS": "127.0.0.1",
    "INNGEST_EVENT_KEY": "test-event-key",
    "INNGEST_SIGNING_KEY": "signkey-test-" + "ab" * 32,
    "KORAI_STEPS_NICE": "0",
}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start(pool: str, env: dict, **popen) -> subprocess.Popen:
    """`gunicorn -c deploy/gunicorn/<pool>.py korai.wsgi` with exactly `env`."""
    popen = {"stdout": subprocess.DEVNULL, "stderr": subprocess.DEVNULL, **popen}
    return subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "-c", f"deploy/gunicorn/{pool}.py", "korai.wsgi"],
        cwd=ROOT,
        env=env,
        **popen,
    )


def wait_until_it_answers(url: str, process: subprocess.Popen) -> None:
    deadline = time.monotonic() + 60
    while True:
        assert process.poll() is None, f"gunicorn exited ({url})"
        try:
            if requests.get(url, timeout=5).status_code == 200:
                return
        except requests.RequestException:
            pass
        assert time.monotonic() < deadline, f"gunicorn did not start ({url})"
        time.sleep(0.2)
