"""The steps pool: its own URLconf, and the start-up check that it can hold every step that
Inngest's concurrency limits allow at once."""

import os
import subprocess
import sys
from pathlib import Path

import inngest
import pytest

from korai.capacity import capacity_problem, steps_in_flight

ROOT = Path(__file__).resolve().parents[2]
client = inngest.Inngest(app_id="capacity-test", is_production=False)


def _function(fn_id, concurrency, trigger=None, on_failure=None):
    @client.create_function(
        fn_id=fn_id,
        trigger=trigger or inngest.TriggerEvent(event=f"{fn_id}/go"),
        concurrency=concurrency,
        on_failure=on_failure,
    )
    def handler(ctx: inngest.ContextSync) -> None:
        return None

    return handler


def _nothing(ctx: inngest.ContextSync) -> None:
    return None


def test_every_function_and_failure_handler_must_fit_one_workers_threads():
    functions = [
        _function("a", [inngest.Concurrency(key="event.data.userId", limit=2),
                        inngest.Concurrency(limit=10)], on_failure=_nothing),
        _function("b", [inngest.Concurrency(limit=5)]),
        _function("tick", [inngest.Concurrency(limit=1)],
                  trigger=inngest.TriggerCron(cron="*/5 * * * *")),
        _function("on-cancel", [inngest.Concurrency(limit=2)],
                  trigger=inngest.TriggerEvent(event="inngest/function.cancelled")),
    ]  # fmt: skip
    # The handler SDK registers for `a` has no limit: it counts as a's.
    assert steps_in_flight(functions) == (
        {
            "capacity-test-a": 10,
            "capacity-test-a-failure": 10,
            "capacity-test-b": 5,
            "capacity-test-tick": 1,
            "capacity-test-on-cancel": 2,
        },
        [],
    )
    assert capacity_problem(functions, threads=28) == ""
    # 28 threads in all across two workers is not enough: one worker may get every step.
    problem = capacity_problem(functions, threads=27)
    assert "28 steps at once" in problem and "capacity-test-a-failure 10" in problem
    assert "one worker, which has 27 threads" in problem


def test_a_function_without_an_overall_limit_is_refused():
    functions = [_function("keyed", [inngest.Concurrency(key="event.data.userId", limit=2)])]
    assert "capacity-test-keyed has no overall" in capacity_problem(functions, threads=64)


def test_korais_functions_fit_one_worker_of_the_default_steps_pool():
    from korai.urls import FUNCTIONS

    counted, unbounded = steps_in_flight(FUNCTIONS)
    assert unbounded == []
    # The functions that settle a job, the clean-up's failure handler and the crons count too.
    for counted_too in (
        "korai-app-process-clips-failed",
        "korai-app-identify-clips-cancelled",
        "korai-app-delete-video-objects-failure",
        "korai-app-reconcile-jobs",
    ):
        assert counted_too in counted
    assert capacity_problem(FUNCTIONS, threads=64) == "", counted


def _gunicorn_check(extra_env):
    """Runs the steps pool's on_starting hook the way gunicorn does, without serving."""
    code = (
        "import sys; sys.argv = ['gunicorn', 'korai.wsgi', '-c', 'deploy/gunicorn/steps.py', "
        "'--check-config']\n"
        "from gunicorn.app.wsgiapp import WSGIApplication\n"
        "app = WSGIApplication()\n"
        "from types import SimpleNamespace\n"
        "app.cfg.on_starting(SimpleNamespace(cfg=app.cfg))\n"
        "print('started')\n"
    )
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "tests.settings",
        **extra_env,
    }
    return subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True
    )


def test_the_steps_pool_refuses_to_start_when_the_limits_do_not_fit_one_worker():
    # 2 x 32 threads, but Korai's functions and their failure handlers need 61 in one worker.
    result = _gunicorn_check({"KORAI_STEPS_WORKERS": "2", "KORAI_STEPS_THREADS": "32"})
    assert result.returncode == 1
    assert "steps at once" in result.stderr and "KORAI_STEPS_THREADS" in result.stderr
    assert "Traceback" not in result.stderr


def test_the_steps_pool_starts_by_default():
    result = _gunicorn_check({})
    assert result.returncode == 0, result.stderr
    assert "started" in result.stdout


@pytest.mark.parametrize(
    ("role", "inngest_status", "api_status"),
    [("all", 401, 401), ("api", 404, 401), ("steps", 401, 404)],
)
def test_each_role_serves_its_own_paths(role, inngest_status, api_status):
    """An unsigned POST to /api/inngest is 401 where it is served; /api/videos/ without a token
    is 401 where the API is served; anything else is 404."""
    code = (
        "import django; django.setup()\n"
        "from django.test import Client\n"
        "c = Client()\n"
        "print(c.post('/api/inngest?fnId=x&stepId=step', data='{}', "
        "content_type='application/json').status_code, c.get('/api/videos/').status_code)\n"
    )
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "tests.settings",
        "DJANGO_ALLOWED_HOSTS": "testserver",
        "KORAI_ROLE": role,
    }
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split()[-2:] == [str(inngest_status), str(api_status)]
