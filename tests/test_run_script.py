"""`scripts/run.sh` (what `make run` calls), run for real on a copy of the project: its
preparation is idempotent, it serves the API with the demo token, says plainly when the Inngest
Dev Server cannot start, and leaves no process behind when it is stopped."""

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

ROOT = Path(__file__).resolve().parents[1]
TOKEN_LINE = re.compile(r"API token: ([0-9a-f]{40})")


@pytest.fixture
def project(tmp_path) -> Path:
    """A fresh copy of the working tree (no .env, no database) sharing this virtualenv."""
    copy = tmp_path / "korai"
    shutil.copytree(
        ROOT,
        copy,
        ignore=shutil.ignore_patterns(
            ".git", ".venv", ".env", "db.sqlite3*", "artifacts", "staticfiles", "bench",
            "__pycache__", ".pytest_cache", ".ruff_cache", "node_modules",
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


@pytest.mark.parametrize(
    "stop",
    [
        pytest.param("ctrl-c", id="ctrl-c"),  # SIGINT to the whole foreground process group
        pytest.param("kill", id="kill-script"),  # SIGTERM to the script alone
    ],
)
def test_run_serves_the_api_and_stops_every_child(project, tmp_path, stop):
    web_port, sandbox_port = _free_port(), _free_port()
    # An npx that never brings the Dev Server up (like a slow or offline download); it records
    # its own pid and its child's so the test can see that both are stopped.
    pids = tmp_path / "npx.pids"
    fake_bin = tmp_path / "bin"
    fake_bin.mkdir()
    (fake_bin / "npx").write_text(
        f"#!/bin/sh\necho $$ >> {pids}\nsleep 300 &\necho $! >> {pids}\nwait\n"
    )
    (fake_bin / "npx").chmod(0o755)
    env = _environment(
        PATH=f"{fake_bin}:{os.environ['PATH']}",
        KORAI_ADDR=f"127.0.0.1:{web_port}",
        KORAI_DEVSERVER_WAIT="2",
        CLIPS_API_URL=f"http://127.0.0.1:{sandbox_port}/identify-clips",
        PROCESS_CLIPS_API_URL=f"http://127.0.0.1:{sandbox_port}/process-clips",
    )
    script = subprocess.Popen(
        ["scripts/run.sh"],
        cwd=project,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,  # its own process group, as a terminal gives it
    )
    lines: list[str] = []
    reader = threading.Thread(target=lambda: lines.extend(script.stdout), daemon=True)
    reader.start()
    try:
        base = f"http://127.0.0.1:{web_port}"
        deadline = time.monotonic() + 60
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
        assert "No Inngest Dev Server" in output
        assert "manage.py resend_events" in output
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
    assert not _listening(sandbox_port)


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
