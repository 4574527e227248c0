"""One job's story in the logs: every line written while Inngest runs a job carries the job's
id (and the run, attempt and step), so `grep <job id>` finds all of it and nothing else."""

import io
import json
import logging
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import requests

from core.logging import json_formatter
from exports.models import Export
from exports.services import export_cancel
from tests.exports.test_functions import event_for as process_event_for
from tests.exports.test_functions import make_export
from tests.factories import VideoFactory
from tests.fakes.clips_api import Reply
from tests.videos.test_functions import event_for
from videos.models import Video

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def log_lines(caplog):
    """The JSON lines production would print, captured from the root logger."""
    caplog.set_level(logging.INFO)
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(json_formatter())
    logging.getLogger().addHandler(handler)

    def lines() -> list[dict]:
        # Each line is one JSON object: json.loads fails on anything else.
        return [json.loads(line) for line in stream.getvalue().splitlines()]

    yield lines
    logging.getLogger().removeHandler(handler)


@pytest.mark.django_db(transaction=True)
def test_one_jobs_lines_all_carry_its_id(executor, fake_clips_api, user, log_lines):
    first, second = VideoFactory(owner=user), VideoFactory(owner=user)
    # The first job's identification fails once, then succeeds on the step's retry.
    fake_clips_api.queue("identify", Reply(status=502, body={"error": "busy"}))
    first_run = executor.run("identify-clips", event_for(first))
    second_run = executor.run("identify-clips", event_for(second))
    assert first_run.status == second_run.status == "completed"

    lines = log_lines()
    of_first = [line for line in lines if line.get("job_id") == str(first.id)]
    # Every line written while a run was served names that run's job, and only that one.
    for run, video in ((first_run, first), (second_run, second)):
        in_run = [line for line in lines if line.get("run_id") == run.run_id]
        assert in_run
        assert {line["job_id"] for line in in_run} == {str(video.id)}
    assert {line["run_id"] for line in of_first} == {first_run.run_id}
    # What grep finds is the same: the id appears in no other line.
    raw = [json.dumps(line) for line in lines]
    assert sum(str(first.id) in line for line in raw) == len(of_first)

    story = [
        (line["message"], line.get("step"), line["attempt"])
        for line in of_first
        if line["message"] != "request_finished"
    ]
    assert story == [
        ("step_finished", "create-video-record", 0),
        ("external_api_call", "call-identify-clips-api", 0),
        ("step_failed", "call-identify-clips-api", 0),
        ("external_api_call", "call-identify-clips-api", 1),
        ("step_finished", "call-identify-clips-api", 1),
        ("step_finished", "save-clips-to-database", 0),
        ("function_finished", None, 0),
    ]
    failed = next(line for line in of_first if line["message"] == "step_failed")
    assert failed["level"] == "warning"
    assert "502" in failed["error"]
    # Each request's lines share its request id; each request's end is logged with it.
    finished = [line for line in of_first if line["message"] == "request_finished"]
    assert len(finished) == first_run.requests
    assert all(line["request_id"] and line["function"] == "identify-clips" for line in of_first)


def wait_for(predicate, timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.02)


@pytest.mark.django_db(transaction=True)
def test_a_step_that_finds_its_job_cancelled_says_so_once_at_info_level(
    executor, fake_clips_api, s3, user, log_lines
):
    export = make_export(VideoFactory(owner=user, status=Video.Status.COMPLETED))
    rendered = threading.Event()
    fake_clips_api.queue("process", Reply(hold=rendered))
    runs = []
    running = threading.Thread(
        target=lambda: runs.append(executor.run("process-clips", process_event_for(export)))
    )
    running.start()
    wait_for(lambda: fake_clips_api.count("process") == 1)  # in call-process-clips-api
    export_cancel(export=Export.objects.get(pk=export.pk))
    rendered.set()  # the render answers after the cancel
    running.join(timeout=30)

    [run] = runs
    assert run.status == "completed"  # not a failure to look into
    of_run = [line for line in log_lines() if line.get("run_id") == run.run_id]
    assert [line for line in of_run if line["level"] != "info"] == []
    [stopped] = [line for line in of_run if line["message"] == "step_stopped"]
    assert stopped["step"] == "call-process-clips-api"
    assert stopped["reason"] == (
        f"export {export.pk} was cancelled; run {run.run_id} writes nothing"
    )
    assert not any(line["message"] == "function_failed" for line in of_run)


def test_runserver_logs_each_request_once(tmp_path):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    env = {
        "PATH": os.environ["PATH"],
        "DJANGO_READ_DOT_ENV": "0",
        "INNGEST_DEV": "1",
        "DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite3'}",
    }
    server = subprocess.Popen(
        [sys.executable, "manage.py", "runserver", f"127.0.0.1:{port}", "--noreload"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        base = f"http://127.0.0.1:{port}"
        wait_for(lambda: _answers(f"{base}/healthz/"), timeout=60)
        assert requests.get(f"{base}/api/videos/", timeout=10).status_code == 401
        assert requests.get(f"{base}/no-such-page/", timeout=10).status_code == 404
    finally:
        server.send_signal(signal.SIGINT)
        output = server.communicate(timeout=30)[0]

    assert "socket.socket" not in output
    for path, code in (("/api/videos/", 401), ("/no-such-page/", 404)):
        [line] = [line for line in output.splitlines() if path in line]
        assert "request_finished" in line and f"code={code}" in line


def _answers(url: str) -> bool:
    try:
        return requests.get(url, timeout=5).status_code == 200
    except requests.ConnectionError:
        return False
