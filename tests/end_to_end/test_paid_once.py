"""A steps-pool worker killed (`kill -9`) in the middle of a clips service call costs no second
GPU run: the real steps pool (gunicorn, deploy/gunicorn/steps.py, production settings) serves
/api/inngest, driven over HTTP as Inngest drives it; the clips sandbox answers as the real
service (a Modal web endpoint) does, `303` to a result URL after each hold, and counts the runs
it starts; the rendered clips go through a real S3 API (moto's server).

The worker is killed while a wait step is in flight: the POST's `303` has arrived and its result
URL is kept on the job's row. The engine's retry reaches the worker gunicorn starts in its place,
finds the URL and waits on the same call. (A worker killed before the first `303`, while the
POST itself is in flight, leaves nothing to resume: docs/jobs.md, "What a user pays for".)"""

import os
import signal
import subprocess
import threading
import time
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connection

from devtools.executor import InngestExecutor
from devtools.sandbox import IDENTIFY_PATH, PROCESS_PATH, SandboxConfig, SandboxServer
from exports.models import Export
from exports.services import process_event
from tests.factories import ClipFactory, ExportFactory, VideoFactory
from tests.pools import PRODUCTION_ENV, free_port, start, wait_until_it_answers
from videos.models import Video
from videos.services import identify_event

TOKEN = "paid-once-sandbox-token"
HOLD_SECONDS = 1.0  # the sandbox's redirect interval (the real service's is 150 s)
CALL_SECONDS = 4.0  # how long each call runs on the "GPU": four intervals

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(
        connection.vendor != "postgresql", reason="the steps pool is a process of its own"
    ),
]


@pytest.fixture
def sandbox(s3):
    config = SandboxConfig(token=TOKEN, hold=HOLD_SECONDS, latency=CALL_SECONDS, store=s3.put)
    server = SandboxServer(config, port=0)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield server
    server.shutdown()
    server.server_close()


@pytest.fixture
def steps_pool(sandbox, s3, tmp_path):
    """The steps pool, one worker, on this test's database, the sandbox and the bucket."""
    port = free_port()
    database = settings.DATABASES["default"]
    env = {
        **PRODUCTION_ENV,
        "DATABASE_URL": (
            f"postgres://{database['USER']}@{database['HOST']}:{database['PORT']}/"
            f"{database['NAME']}"
        ),
        "INNGEST_SIGNING_KEY": settings.INNGEST_SIGNING_KEY,  # the executor's
        "CLIPS_API_URL": sandbox.base_url + IDENTIFY_PATH,
        "PROCESS_CLIPS_API_URL": sandbox.base_url + PROCESS_PATH,
        "CLIPS_API_TOKEN": TOKEN,
        "CLIPS_API_REDIRECT_INTERVAL_SECONDS": str(HOLD_SECONDS),
        "CLIPS_API_READ_TIMEOUT_SECONDS": "20",
        "AWS_S3_BUCKET_NAME": s3.name,
        "AWS_S3_ENDPOINT_URL": s3.store.url,
        "AWS_REGION": "us-east-1",
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "KORAI_STEPS_BIND": f"127.0.0.1:{port}",
        "KORAI_STEPS_WORKERS": "1",
        "XDG_RUNTIME_DIR": str(tmp_path),
        "PROMETHEUS_MULTIPROC_DIR": str(tmp_path / "metrics"),
    }
    master = start("steps", env)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until_it_answers(f"{url}/healthz/", master)
        yield url, master
    finally:
        master.terminate()
        master.wait(timeout=30)


def test_a_worker_killed_while_identify_waits_on_its_call_pays_for_one_run(
    steps_pool, sandbox, user
):
    url, master = steps_pool
    video = VideoFactory(owner=user, prompt="the funny parts")
    killed = _kill_the_worker_once_the_call_is_kept(master, Video, video.pk)

    run = InngestExecutor(base_url=url).run("identify-clips", identify_event(video))

    assert killed.wait(1), "the worker was not killed during the call"
    assert run.status == "completed", run
    assert run.responses.count(None) == 1  # the request the kill cut: no answer
    assert run.step_attempts["wait-for-identify-clips-api-2"] == 1  # and the waits went on
    assert sandbox.config.runs()[IDENTIFY_PATH] == 1  # one GPU run paid
    video.refresh_from_db()
    assert video.status == Video.Status.COMPLETED and video.total_clips > 0
    assert video.pending_call_url == ""


def test_a_worker_killed_while_a_render_waits_on_its_call_pays_for_one_run(
    steps_pool, sandbox, s3, user
):
    url, master = steps_pool
    video = VideoFactory(owner=user, status=Video.Status.COMPLETED)
    clips = [ClipFactory(video=video, start=60.0 * n, end=60.0 * n + 30) for n in range(2)]
    export = ExportFactory(
        video=video,
        aspect_ratio="1:1",
        selected_ranges=[{"start": c.start, "end": c.end, "clip_id": str(c.pk)} for c in clips],
    )
    killed = _kill_the_worker_once_the_call_is_kept(master, Export, export.pk)

    run = InngestExecutor(base_url=url).run("process-clips", process_event(export))

    assert killed.wait(1), "the worker was not killed during the call"
    assert run.status == "completed", run
    assert run.responses.count(None) == 1
    assert run.step_attempts["wait-for-process-clips-api-2"] == 1
    assert sandbox.config.runs()[PROCESS_PATH] == 1
    export.refresh_from_db()
    assert export.status == Export.Status.COMPLETED
    kept = sorted(export.exported_clips.values_list("s3_key", flat=True))
    assert kept == [export.clip_key(0), export.clip_key(1)]
    assert [key for key in kept if s3.get(key)] == kept  # the rendered bytes are in the bucket


# --- helpers ----------------------------------------------------------------------------------


def _kill_the_worker_once_the_call_is_kept(master, model, pk) -> threading.Event:
    """In the background: once the job's row keeps the call's result URL (its POST step ended
    with the `303`, and the first wait step is on its way), `kill -9` the pool's one worker."""
    killed = threading.Event()

    def watch() -> None:
        deadline = time.monotonic() + 30
        try:
            while time.monotonic() < deadline:
                if model.objects.filter(pk=pk).exclude(pending_call_url="").exists():
                    time.sleep(HOLD_SECONDS / 4)  # the wait step's GET is in flight now
                    os.kill(_worker_of(master), signal.SIGKILL)
                    killed.set()
                    return
                time.sleep(0.02)
        finally:
            connection.close()

    threading.Thread(target=watch, daemon=True).start()
    return killed


def _worker_of(master: subprocess.Popen) -> int:
    children = Path(f"/proc/{master.pid}/task/{master.pid}/children").read_text().split()
    assert len(children) == 1, children
    return int(children[0])
