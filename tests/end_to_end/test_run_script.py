"""`scripts/run.sh` (what `make run` calls), run for real on a copy of the project: its
preparation is idempotent, it serves the API with the demo token and /api/inngest from a steps
server of its own (KORAI_ROLE=steps, as production's split pools), says plainly when (and why)
the Inngest Dev Server cannot start and runs the development executor instead, against the
steps server, so the README's walkthrough completes; a second run while one serves touches
nothing; it leaves no process behind when it is stopped."""

import json
import os
import re
import shutil
import signal
import socket
import sqlite3
import subprocess
import threading
import time
from pathlib import Path

import pytest
import requests

from tests.fakes.s3 import LocalS3

ROOT = Path(__file__).resolve().parents[2]
TOKEN_LINE = re.compile(r"API token: ([0-9a-f]{40})")
# Migrating, then two Django servers, the sandbox, the S3 store and the executor starting at once
# on a shared 2-core machine can take minutes: the suite's 120 s would cut a slow start short.
START_TIMEOUT = 240
pytestmark = pytest.mark.timeout(START_TIMEOUT + 120)


@pytest.fixture
def project(tmp_path) -> Path:
    """A fresh copy of the working tree (no .env, no database) sharing this virtualenv."""
    copy = tmp_path / "korai"
    shutil.copytree(
        ROOT,
        copy,
        ignore=shutil.ignore_patterns(
            ".git", ".venv", ".env", "db.sqlite3*", ".local-s3*", "artifacts", "staticfiles",
            "bench", "__pycache__", ".pytest_cache", ".ruff_cache", "node_modules",
        ),
    )  # fmt: skip
    (copy / ".venv").symlink_to(ROOT / ".venv")
    return copy


def _environment(**extra) -> dict:
    # Only what a developer's shell has: the copy's .env must decide everything else (this
    # process's environment carries the test settings' keys and maybe CI's DATABASE_URL).
    base = {key: os.environ[key] for key in ("PATH", "HOME", "LANG", "TMPDIR") if key in os.environ}
    return base | extra


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _listening(port: int) -> bool:
    with socket.socket() as probe:
        return probe.connect_ex(("127.0.0.1", port)) == 0


def _prepare(project: Path) -> str:
    result = subprocess.run(
        ["scripts/run.sh", "--prepare-only"],
        cwd=project,
        env=_environment(),
        capture_output=True,
        text=True,
        timeout=90,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


def test_preparation_is_idempotent(project):
    first = _prepare(project)
    assert (project / ".env").read_text() == (project / ".env.example").read_text()
    with (project / ".env").open("a") as env_file:
        env_file.write("# kept: a developer's own line\n")

    second = _prepare(project)

    assert "# kept: a developer's own line" in (project / ".env").read_text()
    assert "Created .env" in first and "Created .env" not in second
    assert "Applying accounts.0001_initial" in first
    assert "No migrations to apply." in second
    assert "Created demo user" in first and "Found demo user" in second
    token = TOKEN_LINE.search(first).group(1)
    assert TOKEN_LINE.search(second).group(1) == token
    with sqlite3.connect(project / "db.sqlite3") as db:
        assert db.execute("select username, is_superuser from accounts_user").fetchall() == [
            ("demo", 1)
        ]
        assert db.execute("select key from authtoken_token").fetchall() == [(token,)]


# SIGINT to the whole foreground process group here; the walkthrough test below stops the
# script alone with SIGTERM (`kill <pid>`).
@pytest.mark.parametrize("stop", [pytest.param("ctrl-c", id="ctrl-c")])
def test_run_serves_the_api_and_stops_every_child(project, tmp_path, stop):
    web_port, steps_port, sandbox_port, s3_port = (_free_port() for _ in range(4))
    # An npx that never brings the Dev Server up (like a slow or offline download); it records
    # its own pid and its child's so the test can see that both are stopped.
    pids = tmp_path / "npx.pids"
    fake_bin = tmp_path / "bin"
    fake_bin.mkdir()
    npx_args = tmp_path / "npx.args"
    (fake_bin / "npx").write_text(
        f'#!/bin/sh\necho "$@" > {npx_args}\necho $$ >> {pids}\nsleep 300 &\necho $! >> {pids}\n'
        "wait\n"
    )
    (fake_bin / "npx").chmod(0o755)
    env = _environment(
        PATH=f"{fake_bin}:{os.environ['PATH']}",
        KORAI_ADDR=f"127.0.0.1:{web_port}",
        KORAI_STEPS_ADDR=f"127.0.0.1:{steps_port}",
        KORAI_DEVSERVER_WAIT="2",
        CLIPS_API_URL=f"http://127.0.0.1:{sandbox_port}/identify-clips",
        PROCESS_CLIPS_API_URL=f"http://127.0.0.1:{sandbox_port}/process-clips",
        AWS_S3_ENDPOINT_URL=f"http://127.0.0.1:{s3_port}",
    )
    script = subprocess.Popen(
        ["scripts/run.sh"],
        cwd=project,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,  # its own process group, as a terminal gives it
        preexec_fn=_sigint_at_its_default,
    )
    lines: list[str] = []
    reader = threading.Thread(target=lambda: lines.extend(script.stdout), daemon=True)
    reader.start()
    try:
        base = f"http://127.0.0.1:{web_port}"
        # Generous: CI machines are shared, and migrating plus three processes starting at once
        # can take a while there.
        deadline = time.monotonic() + START_TIMEOUT
        answer = None
        while time.monotonic() < deadline and script.poll() is None:
            token = TOKEN_LINE.search("".join(lines))
            if token:
                try:
                    answer = requests.get(
                        f"{base}/api/videos/",
                        headers={"Authorization": f"Token {token.group(1)}"},
                        timeout=2,
                    )
                    break
                except requests.ConnectionError:
                    pass
            time.sleep(0.3)
        assert answer is not None, "".join(lines)
        assert answer.status_code == 200, answer.text
        assert answer.json()["count"] == 0
        assert requests.get(f"{base}/api/videos/", timeout=2).status_code == 401
        health = requests.get(f"http://127.0.0.1:{sandbox_port}/healthz", timeout=2)
        assert health.json() == {"status": "ok"}
        output = "".join(lines)
        assert f"Clips sandbox listening on http://127.0.0.1:{sandbox_port}" in output
        assert f"Local S3 store (moto) listening on http://127.0.0.1:{s3_port}" in output
        # The bucket of .env.example exists there, for the sandbox to write to.
        bucket = requests.head(f"http://127.0.0.1:{s3_port}/korai-local", timeout=2)
        assert bucket.status_code == 200
        assert "No Inngest Dev Server (no answer within 2s" in output
        assert "Starting the development executor instead" in output
        # Split as production is: /api/inngest on the steps server only, where the Dev Server
        # was pointed.
        steps = f"http://127.0.0.1:{steps_port}"
        assert "function_count" in requests.get(f"{steps}/api/inngest", timeout=5).json()
        assert requests.get(f"{base}/api/inngest", timeout=5).status_code == 404
        assert requests.get(f"{steps}/api/videos/", timeout=5).status_code == 404
        assert f"dev -u {steps}/api/inngest --no-discovery" in npx_args.read_text()
        npx_pids = [int(pid) for pid in pids.read_text().split()]
        assert len(npx_pids) == 2
        assert not any(_alive(pid) for pid in npx_pids), "the timed-out npx was left running"
    finally:
        if stop == "ctrl-c":
            os.killpg(script.pid, signal.SIGINT)
        else:
            script.send_signal(signal.SIGTERM)
        try:
            script.wait(timeout=20)
        finally:
            if script.poll() is None:
                os.killpg(script.pid, signal.SIGKILL)

    assert script.returncode in (130, 143)
    # Nothing of the session is left: no runserver, no sandbox, no reloader child.
    deadline = time.monotonic() + 10
    while _session_processes(script.pid) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert _session_processes(script.pid) == []
    assert not _listening(web_port)
    assert not _listening(steps_port)
    assert not _listening(sandbox_port)
    assert not _listening(s3_port)


def _sigint_at_its_default() -> None:
    # As a terminal starts it. A suite run in the background (`pytest &`, nohup, CI runners)
    # ignores SIGINT, and the script would inherit that: a shell cannot trap a signal that was
    # ignored when it started, so Ctrl-C would not reach its `trap`.
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie is dead, only not yet reaped by its parent.
    stat = Path(f"/proc/{pid}/stat")
    return not (stat.exists() and stat.read_text().split(")")[-1].split()[0] == "Z")


def _session_processes(session_id: int) -> list[str]:
    result = subprocess.run(
        ["ps", "-eo", "pid=,sid=,stat=,args="], capture_output=True, text=True, check=True
    )
    return [
        line
        for line in result.stdout.splitlines()
        if int(line.split()[1]) == session_id and not line.split()[2].startswith("Z")
    ]


SANDBOX_TOKEN = "local-sandbox-token"  # .env.example's CLIPS_API_TOKEN


def _start(project: Path, env: dict) -> tuple[subprocess.Popen, list[str]]:
    script = subprocess.Popen(
        ["scripts/run.sh"],
        cwd=project,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
        preexec_fn=_sigint_at_its_default,
    )
    lines: list[str] = []
    threading.Thread(target=lambda: lines.extend(script.stdout), daemon=True).start()
    return script, lines


def _wait_for(
    lines: list[str], text: str, script: subprocess.Popen, timeout: float = START_TIMEOUT
) -> None:
    deadline = time.monotonic() + timeout
    while text not in "".join(lines):
        assert script.poll() is None, "".join(lines)
        assert time.monotonic() < deadline, f"no {text!r} in:\n" + "".join(lines)
        time.sleep(0.2)


def _wait_until_answering(
    url: str, script: subprocess.Popen, lines: list[str], timeout: float = START_TIMEOUT
) -> None:
    deadline = time.monotonic() + timeout
    while True:
        assert script.poll() is None, "".join(lines)
        try:
            requests.get(url, timeout=2)
            return
        except requests.ConnectionError:
            assert time.monotonic() < deadline, f"nothing answers at {url}:\n" + "".join(lines)
            time.sleep(0.3)


def _stop(script: subprocess.Popen) -> None:
    script.send_signal(signal.SIGTERM)
    try:
        script.wait(timeout=20)
    finally:
        if script.poll() is None:
            os.killpg(script.pid, signal.SIGKILL)
    deadline = time.monotonic() + 10
    while _session_processes(script.pid) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert _session_processes(script.pid) == []


def _walkthrough_commands() -> list[tuple[str, str]]:
    """The README walkthrough's shell block as (step comment, command) pairs, continuation
    lines joined."""
    readme = (ROOT / "README.md").read_text()
    section = readme[readme.index("## Walkthrough") :]
    start = section.index("```sh\n") + len("```sh\n")
    block = section[start : section.index("\n```", start)]
    commands: list[tuple[str, str]] = []
    step = pending = ""
    for line in block.splitlines():
        if line.startswith("# "):
            step = line
            continue
        if not line.strip():
            continue
        pending += line[:-1] + " " if line.endswith("\\") else line
        if not line.endswith("\\"):
            commands.append((step, pending))
            pending = ""
    return commands


def test_readme_walkthrough_completes_without_a_dev_server(project, tmp_path):
    """The walkthrough, command by command as the README writes it, against run.sh with npx
    failing as it does offline: the development executor, driving the steps server, completes
    the video and the export."""
    web_port, steps_port, sandbox_port, s3_port = (_free_port() for _ in range(4))
    # npx as it fails offline: exit status 1, the reason on stderr.
    fake_bin = tmp_path / "bin"
    fake_bin.mkdir()
    (fake_bin / "npx").write_text(
        "#!/bin/sh\necho 'npm notice fetching inngest-cli'\n"
        "echo 'FetchError: request to https://github.com/inngest failed, reason: getaddrinfo "
        "ENOTFOUND github.com' >&2\nexit 1\n"
    )
    (fake_bin / "npx").chmod(0o755)
    # A clips sandbox already answering on the sandbox's port (started by hand, say): run.sh
    # must use it rather than report the sandbox as down.
    from devtools.sandbox import SAMPLE_CLIPS, SandboxConfig, SandboxServer

    # It writes its clips to the local S3 store run.sh starts, as `clips_sandbox` would.
    store = LocalS3()
    store.port = s3_port
    sandbox = SandboxServer(
        SandboxConfig(
            token=SANDBOX_TOKEN, store=lambda key, body: store.put("korai-local", key, body)
        ),
        port=sandbox_port,
    )
    threading.Thread(target=sandbox.serve_forever, daemon=True).start()
    env = _environment(
        PATH=f"{fake_bin}:{os.environ['PATH']}",
        KORAI_ADDR=f"127.0.0.1:{web_port}",
        KORAI_STEPS_ADDR=f"127.0.0.1:{steps_port}",
        CLIPS_API_URL=f"http://127.0.0.1:{sandbox_port}/identify-clips",
        PROCESS_CLIPS_API_URL=f"http://127.0.0.1:{sandbox_port}/process-clips",
        AWS_S3_ENDPOINT_URL=f"http://127.0.0.1:{s3_port}",
    )
    script, lines = _start(project, env)
    try:
        _wait_for(lines, "Development executor standing in for Inngest", script)
        # The API server starts last, after the steps server the executor waits for.
        _wait_until_answering(f"http://127.0.0.1:{web_port}/healthz/", script, lines)
        output = "".join(lines)
        assert "No Inngest Dev Server (npx exited with status 1)" in output
        assert "getaddrinfo ENOTFOUND github.com" in output  # why npx failed
        assert f"A clips sandbox already answers on http://127.0.0.1:{sandbox_port}" in output
        assert "did not start" not in output
        assert f"through http://127.0.0.1:{steps_port}/api/inngest (the steps server)" in output

        answers = _run_walkthrough(
            token=TOKEN_LINE.search(output).group(1), api=f"http://127.0.0.1:{web_port}/api"
        )
        assert answers["video"]["processing_status"] == "completed"
        assert answers["video"]["total_clips"] >= 2
        assert answers["export"]["status"] == "completed"
        assert [bool(clip["s3_key"]) for clip in answers["export"]["exported_clips"]] == [
            True,
            True,
        ]
        # Each rendered clip plays from the local S3 store, through its download URL.
        for clip in answers["export"]["exported_clips"]:
            download = requests.get(clip["download_url"], timeout=5)
            assert download.status_code == 200
            assert download.content.startswith(
                tuple(sample.read_bytes() for sample in SAMPLE_CLIPS.values())
            )

        # A second `make run` while this one serves: says so, exits before touching anything.
        env_file = (project / ".env").stat().st_mtime_ns
        second = subprocess.run(
            ["scripts/run.sh"], cwd=project, env=env, capture_output=True, text=True, timeout=60
        )
        assert second.returncode == 1
        assert f"Korai already runs on http://127.0.0.1:{web_port}" in second.stdout
        assert "Migrating" not in second.stdout and "sandbox" not in second.stdout
        assert (project / ".env").stat().st_mtime_ns == env_file

        # runserver's lines are printed once per server, API and steps (Django's console
        # handler is not doubled).
        output = "".join(lines)
        assert output.count("Watching for file changes with StatReloader") == 2, output
        assert output.count("completed after") == 2  # the executor's two runs

        # No Inngest runs: readiness does not wait for one, and a command in another terminal
        # knows the development executor takes the events.
        ready = requests.get(f"http://127.0.0.1:{web_port}/readyz/", timeout=10)
        assert (ready.status_code, ready.json()) == (200, {"status": "ok"})
        assert _dev_executor_running(project, env) == "True"
    finally:
        _stop(script)
        sandbox.shutdown()
        sandbox.server_close()
    assert _dev_executor_running(project, env) == "False"


def _dev_executor_running(project: Path, env: dict) -> str:
    result = subprocess.run(
        [".venv/bin/python", "manage.py", "shell", "-c",
         "from django.conf import settings; print(settings.KORAI_DEV_EXECUTOR_RUNNING)"],
        cwd=project, env=env, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    return result.stdout.strip().splitlines()[-1]


def _run_walkthrough(*, token: str, api: str) -> dict:
    """Run each command of the README's block in bash; fill each `NAME=<…>` from the answer
    above it; repeat a "Poll until" command until its job is finished."""
    variables = {"TOKEN": token}
    answer: object = None
    seen: dict = {}
    for step, command in _walkthrough_commands():
        name, _, value = command.partition("=")
        if value and " " not in name:
            if value == "<the printed API token>":
                continue
            if value.startswith("<"):
                variables[name] = _fill(value, answer)
            else:
                variables[name] = value.replace("http://127.0.0.1:8000", api.removesuffix("/api"))
            continue
        assert command.startswith("curl "), command
        deadline = time.monotonic() + 60
        while True:
            result = subprocess.run(
                ["bash", "-c", command],
                env={"PATH": os.environ["PATH"], **variables},
                capture_output=True,
                text=True,
                timeout=30,
            )
            assert result.returncode == 0, (command, result.stderr)
            answer = json.loads(result.stdout)
            finished = answer.get("processing_status", answer.get("status"))
            if "Poll until" not in step or finished in ("completed", "failed", "partial"):
                break
            assert time.monotonic() < deadline, (step, answer)
            time.sleep(0.5)
        if step.startswith("# 1."):
            assert answer["processing_status"] == "pending", answer
        if step.startswith("# 2."):
            seen["video"] = answer
        if step.startswith("# 3."):
            scores = [clip["virality_score"] for clip in answer["results"]]
            assert scores == sorted(scores, reverse=True)
        if step.startswith("# 4."):
            assert answer["status"] == "pending", answer
        if step.startswith("# 5."):
            seen["export"] = answer
    assert set(seen) == {"video", "export"}, f"the walkthrough lost a step: {seen}"
    return seen


def _fill(placeholder: str, answer: dict) -> str:
    if placeholder == "<its id>":
        return answer["id"]
    if placeholder == "<a clip id>":
        return answer["results"][0]["id"]
    if placeholder == "<another clip id>":
        return answer["results"][1]["id"]
    raise AssertionError(f"the test does not know how to fill {placeholder!r}")


def test_a_taken_steps_port_stops_the_start_before_anything_changes(project):
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    web_port = _free_port()
    other = ThreadingHTTPServer(("127.0.0.1", 0), BaseHTTPRequestHandler)
    threading.Thread(target=other.serve_forever, daemon=True).start()
    try:
        steps_addr = f"127.0.0.1:{other.server_address[1]}"
        result = subprocess.run(
            ["scripts/run.sh"],
            cwd=project,
            env=_environment(KORAI_ADDR=f"127.0.0.1:{web_port}", KORAI_STEPS_ADDR=steps_addr),
            capture_output=True,
            text=True,
            timeout=60,
        )
    finally:
        other.shutdown()
        other.server_close()
    assert result.returncode == 1
    assert f"Another program listens on {steps_addr}" in result.stdout
    assert not (project / ".env").exists() and not (project / "db.sqlite3").exists()
