"""The two gunicorn pools (deploy/gunicorn/): on loopback by default, so only the buffering
proxy in front reaches them, and each with a control socket of its own, so both run side by side
on one host. Configs are loaded, and pools started, by gunicorn itself in fresh processes."""

import json
import subprocess
import sys

import pytest
from gunicorn.ctl.client import ControlClient

from tests.pools import PRODUCTION_ENV, ROOT, free_port, start, wait_until_it_answers


def gunicorn_config(pool: str, **env) -> dict:
    """What gunicorn makes of deploy/gunicorn/<pool>.py, read without serving."""
    code = (
        f"import sys; sys.argv = ['gunicorn', 'korai.wsgi', '-c', 'deploy/gunicorn/{pool}.py']\n"
        "import json\n"
        "from gunicorn.app.wsgiapp import WSGIApplication\n"
        "cfg = WSGIApplication().cfg\n"
        "print(json.dumps({'bind': cfg.bind, 'control_socket': cfg.control_socket}))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        env={**PRODUCTION_ENV, **env},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


@pytest.mark.parametrize(
    ("pool", "address"), [("api", "127.0.0.1:8000"), ("steps", "127.0.0.1:8001")]
)
def test_each_pool_listens_on_loopback_by_default(pool, address, tmp_path):
    assert gunicorn_config(pool, XDG_RUNTIME_DIR=str(tmp_path))["bind"] == [address]


def test_each_pool_has_a_control_socket_of_its_own(tmp_path):
    sockets = {
        pool: gunicorn_config(pool, XDG_RUNTIME_DIR=str(tmp_path))["control_socket"]
        for pool in ("api", "steps")
    }

    assert sockets == {
        "api": str(tmp_path / "korai-api.ctl"),  # beside gunicorn's own default
        "steps": str(tmp_path / "korai-steps.ctl"),
    }
    chosen = gunicorn_config("api", KORAI_API_CONTROL_SOCKET="/run/korai/api.ctl")
    assert chosen["control_socket"] == "/run/korai/api.ctl"


def test_both_pools_run_side_by_side_each_on_its_own_control_socket(tmp_path):
    api_port, steps_port = free_port(), free_port()
    env = {
        **PRODUCTION_ENV,
        # gunicorn's default control socket directory, here one of this test's own.
        "XDG_RUNTIME_DIR": str(tmp_path),
        "PROMETHEUS_MULTIPROC_DIR": str(tmp_path / "metrics"),
        "KORAI_API_BIND": f"127.0.0.1:{api_port}",
        "KORAI_API_WORKERS": "1",
        "KORAI_STEPS_BIND": f"127.0.0.1:{steps_port}",
        "KORAI_STEPS_WORKERS": "1",
        "KORAI_STEPS_THREADS": "64",
    }
    pools = {"api": start("api", env)}
    try:
        wait_until_it_answers(f"http://127.0.0.1:{api_port}/healthz/", pools["api"])
        pools["steps"] = start("steps", env)  # started second, as a takeover would be
        wait_until_it_answers(f"http://127.0.0.1:{steps_port}/healthz/", pools["steps"])

        for pool, port in (("api", api_port), ("steps", steps_port)):
            with ControlClient(str(tmp_path / f"korai-{pool}.ctl"), timeout=10) as control:
                assert control.send_command("show stats")["pid"] == pools[pool].pid, pool
                listeners = control.send_command("show listeners")["listeners"]
            assert [listener["address"] for listener in listeners] == [f"http://127.0.0.1:{port}"]

        steps = pools.pop("steps")
        steps.terminate()  # stopping one pool leaves the other's control socket alone
        steps.wait(timeout=30)
        with ControlClient(str(tmp_path / "korai-api.ctl"), timeout=10) as control:
            assert control.send_command("show stats")["pid"] == pools["api"].pid
    finally:
        for process in pools.values():
            process.terminate()
        for process in pools.values():
            process.wait(timeout=30)
