"""Settings behaviour, checked in fresh processes so the environment is exactly what we set."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PRODUCTION_ENV = {
    "DJANGO_SECRET_KEY": "p" * 20 + "-production-only-secret-" + "q" * 30,
    "DJANGO_ALLOWED_HOSTS": "korai.example.com",
    "INNGEST_EVENT_KEY": "prod-event-key",
    "INNGEST_SIGNING_KEY": "signkey-prod-" + "cd" * 32,
}


def manage(*args, **env_overrides):
    # Only what these tests set: nothing from the developer's shell or .env leaks in.
    env = {
        "PATH": os.environ["PATH"],
        "DJANGO_SETTINGS_MODULE": "korai.settings.production",
        "DJANGO_READ_DOT_ENV": "0",
        **env_overrides,
    }
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_production_refuses_to_start_without_a_secret_key():
    env = {k: v for k, v in PRODUCTION_ENV.items() if k != "DJANGO_SECRET_KEY"}
    result = manage("check", **env)
    assert result.returncode != 0
    assert "DJANGO_SECRET_KEY: not set" in result.stderr


@pytest.mark.parametrize("command", ["check", "makemigrations", "migrate"])
def test_every_command_names_a_missing_secret_key_in_one_line(command):
    # INNGEST_DEV alone is not development mode for Django: the secret key is still required.
    result = manage(command, "--help" if command == "migrate" else "--check", INNGEST_DEV="1")
    assert result.returncode == 2, result.stderr
    assert result.stderr.strip().splitlines() == [
        "Configuration error: DJANGO_SECRET_KEY: not set; expected 50+ random characters "
        "(or set DJANGO_DEBUG=1 for local development)"
    ]


@pytest.mark.parametrize(
    ("variable", "value", "expected"),
    [
        (
            "DATABASE_URL",
            "nonsense",
            "DATABASE_URL: expected a URL like postgres://user@host/db or sqlite:///path, "
            "got 'nonsense'",
        ),
        ("DATABASE_URL", "postgres://db.internal", "(with a database name)"),
        ("KORAI_EXPORT_MAX_CLIPS", "twenty", "KORAI_EXPORT_MAX_CLIPS: expected an integer"),
        ("INNGEST_SEND_TIMEOUT_SECONDS", "1s", "INNGEST_SEND_TIMEOUT_SECONDS: expected a number"),
        ("DJANGO_DEBUG", "ture", "DJANGO_DEBUG: expected 1 or 0"),
        ("CACHE_URL", "memcache", "CACHE_URL: expected a URL like redis://"),
        ("OUTBOX_DELIVERY", "later", "OUTBOX_DELIVERY: expected 'background' or 'inline'"),
    ],
)
def test_a_malformed_variable_is_named_in_one_line_without_a_traceback(variable, value, expected):
    result = manage("check", **{**PRODUCTION_ENV, variable: value})
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("Configuration error: ")
    assert expected in lines[0]
    assert repr(value) in lines[0]


@pytest.mark.parametrize("entry_point", ["korai.wsgi", "korai.asgi"])
def test_the_server_entry_points_report_a_malformed_variable_in_one_line(entry_point):
    result = python(f"import {entry_point}", **{**PRODUCTION_ENV, "DATABASE_URL": "nonsense"})
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        "Configuration error: DATABASE_URL: expected a URL like postgres://user@host/db or "
        "sqlite:///path, got 'nonsense'"
    ]


def test_check_deploy_is_clean_under_production_variables():
    result = manage("check", "--deploy", "--fail-level", "WARNING", **PRODUCTION_ENV)
    assert result.returncode == 0, result.stderr
    assert "System check identified no issues (0 silenced)." in result.stdout


def test_the_steps_pool_runs_without_the_browser_middleware_and_checks_clean():
    result = manage(
        "check", "--deploy", "--fail-level", "WARNING", KORAI_ROLE="steps", **PRODUCTION_ENV
    )
    assert result.returncode == 0, result.stderr
    code = "from django.conf import settings; print(' '.join(settings.MIDDLEWARE))"
    result = manage("shell", "--no-imports", "-c", code, KORAI_ROLE="steps", **PRODUCTION_ENV)
    middleware = result.stdout.split()
    assert "django.contrib.sessions.middleware.SessionMiddleware" not in middleware
    assert "axes.middleware.AxesMiddleware" not in middleware
    # What /api/inngest needs stays: its JSON errors, its body limit, metrics and request ids.
    for kept in (
        "core.middleware.ApiErrorMiddleware",
        "core.request_limits.RequestSizeLimitMiddleware",
        "django_prometheus.middleware.PrometheusAfterMiddleware",
        "django_structlog.middlewares.RequestMiddleware",
    ):
        assert kept in middleware


def test_debug_is_off_unless_asked():
    code = "from django.conf import settings; print(settings.DEBUG)"
    result = manage("shell", "--no-imports", "-c", code, **PRODUCTION_ENV)
    assert result.stdout.strip() == "False", result.stderr
    result = manage("shell", "--no-imports", "-c", code, DJANGO_DEBUG="1")
    assert result.stdout.strip() == "True", result.stderr


def test_database_url_selects_postgresql_with_connection_reuse():
    code = (
        "from django.conf import settings; d = settings.DATABASES['default'];"
        "print(d['ENGINE'], d['NAME'], d['CONN_MAX_AGE'], d['CONN_HEALTH_CHECKS'])"
    )
    result = manage(
        "shell",
        "--no-imports",
        "-c",
        code,
        DATABASE_URL="postgres://u@db.internal:5432/korai",
        **PRODUCTION_ENV,
    )
    # django-prometheus's wrapper of Django's PostgreSQL backend (it counts queries).
    assert result.stdout.split() == [
        "django_prometheus.db.backends.postgresql",
        "korai",
        "60",
        "True",
    ], result.stderr


def test_production_logs_json_lines():
    code = "import logging; logging.getLogger('korai').warning('hello', extra={'video_id': 'v1'})"
    result = manage("shell", "--no-imports", "-c", code, **PRODUCTION_ENV)
    record = json.loads(result.stdout.strip().splitlines()[-1])
    assert record["message"] == "hello"
    assert record["video_id"] == "v1"
    assert record["level"] == "warning"
    assert record["logger"] == "korai"
    assert record["time"].endswith("Z")


def python(code, **env_overrides):
    env = {"PATH": os.environ["PATH"], "DJANGO_READ_DOT_ENV": "0", **env_overrides}
    return subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60
    )


@pytest.mark.parametrize("entry_point", ["korai.wsgi", "korai.asgi"])
def test_the_server_entry_points_refuse_to_start_without_inngest_keys(entry_point):
    without_keys = {
        k: v
        for k, v in PRODUCTION_ENV.items()
        if k not in ("INNGEST_EVENT_KEY", "INNGEST_SIGNING_KEY")
    }
    result = python(f"import {entry_point}", **without_keys)
    assert result.returncode != 0
    assert "INNGEST_SIGNING_KEY is not set" in result.stderr

    assert python(f"import {entry_point}", **PRODUCTION_ENV).returncode == 0


def test_the_server_entry_points_never_read_a_dotenv_file():
    code = "import os, korai.wsgi; print(os.environ['DJANGO_READ_DOT_ENV'])"
    result = subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        env={"PATH": os.environ["PATH"], **PRODUCTION_ENV},  # DJANGO_READ_DOT_ENV not set
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.stdout.strip() == "0", result.stderr


def test_https_redirect_spares_the_inngest_endpoint_and_health_check():
    code = (
        "from django.test import Client; c = Client(SERVER_NAME='korai.example.com');"
        "print(c.post('/api/inngest?fnId=x').status_code, c.get('/healthz/').status_code,"
        " c.get('/api/videos/').status_code)"
    )
    result = manage("shell", "--no-imports", "-c", code, **PRODUCTION_ENV)
    # Unsigned POST: refused by the signature check (401), not redirected (301) and lost.
    assert result.stdout.split()[-3:] == ["401", "200", "301"], result.stderr


def test_a_malformed_database_url_is_reported_without_its_password():
    result = manage("check", **{**PRODUCTION_ENV, "DATABASE_URL": "postgres://u:hunter2@db:5432"})
    assert result.returncode == 2
    assert "hunter2" not in result.stderr
    assert "'postgres://u:***@db:5432'" in result.stderr


def test_an_empty_value_means_the_default():
    # As a copied .env.example leaves many: `INNGEST_RETRIES=` is not an error.
    code = (
        "from django.conf import settings;"
        "print(settings.INNGEST_RETRIES, settings.SECURE_SSL_REDIRECT)"
    )
    result = manage(
        "shell",
        "--no-imports",
        "-c",
        code,
        **{**PRODUCTION_ENV, "INNGEST_RETRIES": "", "DJANGO_SECURE_SSL_REDIRECT": " "},
    )
    assert result.stdout.split() == ["3", "True"], result.stderr
