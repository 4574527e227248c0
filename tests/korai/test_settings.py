"""Settings behaviour, checked in fresh processes so the environment is exactly what we set:
production's (korai.settings.production) unless a test names another module."""

import json
import os
import shutil
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


def test_production_refuses_the_development_executor_flag():
    # Production has no development executor: with the flag, no event would go anywhere.
    result = manage("check", **PRODUCTION_ENV, KORAI_DEV_EXECUTOR_RUNNING="1")
    assert result.returncode == 2, result.stderr
    assert result.stderr.strip().splitlines() == [
        "Configuration error: KORAI_DEV_EXECUTOR_RUNNING: the development executor runs only "
        "under korai.settings.development; unset it (or set 0) in production"
    ]


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
        # Inngest cuts retries above 20 to 20 without a word.
        ("INNGEST_RETRIES", "21", "INNGEST_RETRIES: expected an integer from 0 to 20"),
        ("INNGEST_RETRIES", "-1", "INNGEST_RETRIES: expected an integer from 0 to 20"),
        ("KORAI_CLEANUP_RETRIES", "50", "KORAI_CLEANUP_RETRIES: expected an integer from 0 to 20"),
        (
            "INNGEST_SERVE_ORIGIN",
            "https://steps.example.com/api/inngest",
            "INNGEST_SERVE_ORIGIN: expected an origin like https://steps.example.com",
        ),
        ("INNGEST_SERVE_ORIGIN", "steps.example.com", "INNGEST_SERVE_ORIGIN: expected an origin"),
        ("INNGEST_SERVE_ORIGIN", "ftp://steps.example.com", "INNGEST_SERVE_ORIGIN: expected"),
        ("INNGEST_SERVE_ORIGIN", "https://steps.example.com:x", "INNGEST_SERVE_ORIGIN: expected"),
        ("INNGEST_SERVE_PATH", "api/inngest", "INNGEST_SERVE_PATH: expected a path like"),
        ("INNGEST_SERVE_PATH", "/api/inngest?x=1", "INNGEST_SERVE_PATH: expected a path like"),
        # DRF would parse these at every throttled request and answer 500.
        ("KORAI_THROTTLE_VIDEO_SUBMIT", "30 per hour", "expected a rate like 30/hour"),
        ("KORAI_THROTTLE_EXPORT_CREATE", "60/fortnight", "expected a rate like 30/hour"),
        # Jobs would retry against it for hours.
        ("AWS_S3_ENDPOINT_URL", "http://127.0.0.1:notaport", "expected a URL like http://host"),
        ("CLIPS_API_URL", "127.0.0.1:8100/identify-clips", "expected a URL like http://host"),
        ("DJANGO_LOG_LEVEL", "verbose", "DJANGO_LOG_LEVEL: expected 'DEBUG' or 'INFO'"),
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
        "api.middleware.ApiErrorMiddleware",
        "api.request_limits.RequestSizeLimitMiddleware",
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
        "print(c.post('/api/inngest?fnId=x').status_code,"
        " c.post('/api/inngest/?fnId=x').status_code,"
        " c.get('/healthz/').status_code, c.get('/api/videos/').status_code)"
    )
    result = manage("shell", "--no-imports", "-c", code, **PRODUCTION_ENV)
    # Unsigned POST, with or without the slash: refused by the signature check (401), not
    # redirected (301) and lost.
    assert result.stdout.split()[-4:] == ["401", "401", "200", "301"], result.stderr


@pytest.mark.parametrize(
    ("variable", "value", "stray"),
    [
        # An inline comment is part of the value: SQLite would open a file named "db.sqlite3 ".
        ("DATABASE_URL", "sqlite:///db.sqlite3 # my db", "ends with ' # my db'"),
        ("KORAI_THROTTLE_VIDEO_SUBMIT", "30/hour ", "ends with ' '"),
        ("INNGEST_RETRIES", " 3", "starts with ' '"),
        ("DJANGO_DEBUG", "0\t# off", "ends with '\\t# off'"),
    ],
)
def test_a_value_with_a_comment_or_spaces_around_it_is_refused_in_one_line(variable, value, stray):
    result = manage("check", **{**PRODUCTION_ENV, variable: value})
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        f"Configuration error: {variable}: {stray}; expected the value alone, without spaces "
        "around it (a comment goes on a line of its own)"
    ]


def test_a_secret_with_stray_text_is_refused_without_showing_the_secret():
    result = manage("check", **{**PRODUCTION_ENV, "DJANGO_SECRET_KEY": "s3cr3t" * 10 + " # new"})
    assert result.returncode == 2
    assert "DJANGO_SECRET_KEY: ends with ' # new'" in result.stderr
    assert "s3cr3t" not in result.stderr


def test_a_malformed_database_url_is_reported_without_its_password():
    result = manage("check", **{**PRODUCTION_ENV, "DATABASE_URL": "postgres://u:hunter2@db:5432"})
    assert result.returncode == 2
    assert "hunter2" not in result.stderr
    assert "'postgres://u:***@db:5432'" in result.stderr


def test_retries_and_the_serve_url_in_range_are_read():
    values = settings_of(
        "korai.settings.production",
        "INNGEST_RETRIES",
        "KORAI_CLEANUP_RETRIES",
        "INNGEST_SERVE_ORIGIN",
        "INNGEST_SERVE_PATH",
        **PRODUCTION_ENV,
        INNGEST_RETRIES="0",
        KORAI_CLEANUP_RETRIES="20",
        INNGEST_SERVE_ORIGIN="https://steps.example.com:8443/",
        INNGEST_SERVE_PATH="/korai/api/inngest",
    )
    assert values == {
        "INNGEST_RETRIES": 0,
        "KORAI_CLEANUP_RETRIES": 20,
        "INNGEST_SERVE_ORIGIN": "https://steps.example.com:8443",
        "INNGEST_SERVE_PATH": "/korai/api/inngest",
    }


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


# --- One settings module per environment, the role orthogonal to it ------------------------------

# The middleware of the roles that serve browsers (all, api), in order.
BROWSER_MIDDLEWARE = [
    "django_prometheus.middleware.PrometheusBeforeMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "api.middleware.PrivateAnswerMiddleware",
    "api.middleware.ApiErrorMiddleware",
    "api.middleware.ApiPathMiddleware",
    "api.request_limits.RequestSizeLimitMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "corsheaders.middleware.CorsMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_structlog.middlewares.RequestMiddleware",
    "django_prometheus.middleware.PrometheusAfterMiddleware",
    "csp.middleware.CSPMiddleware",
    "axes.middleware.AxesMiddleware",
]
# The steps role's: the same order, without static files, CORS, sessions, authentication,
# messages, CSP and axes.
STEPS_MIDDLEWARE = [
    "django_prometheus.middleware.PrometheusBeforeMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "api.middleware.ApiErrorMiddleware",
    "api.middleware.ApiPathMiddleware",
    "api.request_limits.RequestSizeLimitMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_structlog.middlewares.RequestMiddleware",
    "django_prometheus.middleware.PrometheusAfterMiddleware",
]
MODULES = ["korai.settings.production", "korai.settings.development", "tests.settings"]
PRINT_SETTINGS = (
    "import json; from django.conf import settings;"
    "print(json.dumps({{name: getattr(settings, name) for name in {names!r}}}, default=str))"
)


def settings_of(module, *names, **env_overrides):
    """The named settings of `module`, loaded by a fresh process without django.setup()."""
    code = PRINT_SETTINGS.format(names=list(names))
    result = python(code, DJANGO_SETTINGS_MODULE=module, **env_overrides)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize("module", MODULES)
@pytest.mark.parametrize(
    ("role", "urlconf", "middleware", "silenced"),
    [
        ("all", "korai.urls", BROWSER_MIDDLEWARE, []),
        ("api", "korai.urls", BROWSER_MIDDLEWARE, []),
        (
            "steps",
            "korai.urls_steps",
            STEPS_MIDDLEWARE,
            ["admin.E408", "admin.E409", "admin.E410", "axes.W002"],
        ),
    ],
)
def test_each_role_has_its_urlconf_and_middleware_in_every_module(
    module, role, urlconf, middleware, silenced
):
    values = settings_of(
        module,
        "KORAI_ROLE",
        "ROOT_URLCONF",
        "MIDDLEWARE",
        "SILENCED_SYSTEM_CHECKS",
        KORAI_ROLE=role,
        **PRODUCTION_ENV,
    )
    assert values == {
        "KORAI_ROLE": role,
        "ROOT_URLCONF": urlconf,
        "MIDDLEWARE": middleware,
        "SILENCED_SYSTEM_CHECKS": silenced,
    }


def test_the_role_defaults_to_all_and_a_bad_one_is_named_in_one_line():
    assert settings_of("korai.settings.production", "KORAI_ROLE", **PRODUCTION_ENV) == {
        "KORAI_ROLE": "all"
    }
    result = manage("check", KORAI_ROLE="web", **PRODUCTION_ENV)
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        "Configuration error: KORAI_ROLE: expected 'all' or 'api' or 'steps', got 'web'"
    ]


@pytest.mark.parametrize(("role", "pooled"), [("all", False), ("api", False), ("steps", True)])
def test_only_the_steps_role_pools_its_postgresql_connections(role, pooled):
    values = settings_of(
        "korai.settings.production",
        "DATABASES",
        KORAI_ROLE=role,
        DATABASE_URL="postgres://u@db.internal:5432/korai",
        KORAI_STEPS_DB_POOL_SIZE="3",
        **PRODUCTION_ENV,
    )
    database = values["DATABASES"]["default"]
    assert database["ENGINE"] == "django_prometheus.db.backends.postgresql"
    if pooled:
        assert database["CONN_MAX_AGE"] == 0
        assert database["OPTIONS"]["pool"] == {"min_size": 1, "max_size": 3, "timeout": 30}
    else:
        assert database["CONN_MAX_AGE"] == 60
        assert "pool" not in database.get("OPTIONS", {})


@pytest.mark.parametrize(
    ("module", "installed"),
    [
        ("korai.settings.production", False),
        ("korai.settings.development", True),
        ("tests.settings", True),  # the suite tests devtools and drives functions with it
    ],
)
def test_devtools_is_installed_outside_production_only(module, installed):
    apps = settings_of(module, "INSTALLED_APPS", **PRODUCTION_ENV)["INSTALLED_APPS"]
    assert ("devtools" in apps) is installed
    # Everything else is the same in every module.
    assert [app for app in apps if app != "devtools"] == settings_of(
        "korai.settings.production", "INSTALLED_APPS", **PRODUCTION_ENV
    )["INSTALLED_APPS"]


@pytest.mark.parametrize("command", ["dev_executor", "clips_sandbox", "local_s3"])
def test_the_development_commands_are_unknown_under_production_settings(command):
    result = manage(command, "--help", **PRODUCTION_ENV)
    assert result.returncode == 1
    assert f"Unknown command: '{command}'" in result.stderr

    development = manage(command, "--help", DJANGO_SETTINGS_MODULE="korai.settings.development")
    assert development.returncode == 0, development.stderr
    assert f"manage.py {command}" in development.stdout


def manage_by_default(*args, **env_overrides):
    """manage.py as a developer runs it: no DJANGO_SETTINGS_MODULE."""
    env = {"PATH": os.environ["PATH"], "DJANGO_READ_DOT_ENV": "0", **env_overrides}
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_manage_py_defaults_to_the_development_settings():
    code = (
        "from django.conf import settings;"
        "print(settings.SETTINGS_MODULE, settings.DEBUG, 'devtools' in settings.INSTALLED_APPS)"
    )
    # Neither DJANGO_DEBUG nor DJANGO_SECRET_KEY: development needs neither.
    result = manage_by_default("shell", "--no-imports", "-c", code)
    assert result.stdout.split() == ["korai.settings.development", "True", "True"], result.stderr
    # An empty value means the default there too, as a copied .env.example may leave it.
    result = manage_by_default("shell", "--no-imports", "-c", code, DJANGO_DEBUG="")
    assert result.stdout.split()[1] == "True", result.stderr


def test_development_settings_with_debug_off_require_a_secret_key_in_one_line():
    result = manage_by_default("check", DJANGO_DEBUG="0")
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        "Configuration error: DJANGO_SECRET_KEY: not set; expected 50+ random characters "
        "(or set DJANGO_DEBUG=1 for local development)"
    ]


def test_a_malformed_variable_is_named_in_one_line_under_development_settings():
    result = manage_by_default("check", INNGEST_DEV="1", DATABASE_URL="nonsense")
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        "Configuration error: DATABASE_URL: expected a URL like postgres://user@host/db or "
        "sqlite:///path, got 'nonsense'"
    ]


@pytest.fixture(scope="module")
def project_copy(tmp_path_factory) -> Path:
    """The working tree without its .env, for tests that write one."""
    copy = tmp_path_factory.mktemp("project") / "korai"
    shutil.copytree(
        ROOT,
        copy,
        ignore=shutil.ignore_patterns(
            ".git", ".venv", ".env", "db.sqlite3*", ".local-s3*", "artifacts", "staticfiles",
            "bench", "__pycache__", ".pytest_cache", ".ruff_cache", "node_modules",
        ),
    )  # fmt: skip
    return copy


@pytest.mark.parametrize(
    ("dot_env", "environment", "debug"),
    [
        ("", {}, "True"),
        ("DJANGO_DEBUG=\n", {}, "True"),
        ("DJANGO_DEBUG=0\nDJANGO_SECRET_KEY=" + "s" * 50 + "\n", {}, "False"),
        # The environment wins over .env, which wins over the module's default.
        ("DJANGO_DEBUG=0\n", {"DJANGO_DEBUG": "1"}, "True"),
    ],
)
def test_development_debug_follows_dot_env_then_the_environment(
    project_copy, dot_env, environment, debug
):
    (project_copy / ".env").write_text(dot_env)
    code = "from django.conf import settings; print(settings.DEBUG)"
    result = subprocess.run(
        [sys.executable, "manage.py", "shell", "--no-imports", "-c", code],
        cwd=project_copy,
        env={"PATH": os.environ["PATH"], **environment},  # .env read: DJANGO_READ_DOT_ENV unset
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.stdout.strip() == debug, result.stderr


def test_an_inline_comment_in_dot_env_is_refused_in_one_line(project_copy):
    (project_copy / ".env").write_text("DATABASE_URL=sqlite:///db.sqlite3 # my db\n")
    result = subprocess.run(
        [sys.executable, "manage.py", "check"],
        cwd=project_copy,
        env={"PATH": os.environ["PATH"]},  # .env read: DJANGO_READ_DOT_ENV unset
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        "Configuration error: DATABASE_URL: ends with ' # my db'; expected the value alone, "
        "without spaces around it (a comment goes on a line of its own)"
    ]
    assert not list(project_copy.glob("db.sqlite3*"))


def test_the_settings_package_itself_is_refused_in_one_line():
    # Its modules are: a deployment that still names the package is told which one to use.
    result = manage("check", DJANGO_SETTINGS_MODULE="korai.settings", **PRODUCTION_ENV)
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        "Configuration error: DJANGO_SETTINGS_MODULE: expected korai.settings.production "
        "(servers, and management commands in production) or korai.settings.development "
        "(local development), got 'korai.settings'"
    ]


@pytest.mark.parametrize("entry_point", ["korai.wsgi", "korai.asgi"])
def test_the_server_entry_points_default_to_the_production_settings(entry_point):
    code = (
        f"import {entry_point}; from django.conf import settings;"
        "print(settings.SETTINGS_MODULE, 'devtools' in settings.INSTALLED_APPS)"
    )
    result = python(code, **PRODUCTION_ENV)
    assert result.stdout.split() == ["korai.settings.production", "False"], result.stderr


def test_the_steps_pools_gunicorn_config_loads_production_settings_in_the_steps_role(tmp_path):
    code = (
        "import sys; sys.argv = ['gunicorn', 'korai.wsgi', '-c', 'deploy/gunicorn/steps.py', "
        "'--check-config']\n"
        "from gunicorn.app.wsgiapp import WSGIApplication\n"
        "app = WSGIApplication()\n"
        "from types import SimpleNamespace\n"
        "app.cfg.on_starting(SimpleNamespace(cfg=app.cfg))\n"
        "from django.conf import settings\n"
        "print(settings.SETTINGS_MODULE, settings.KORAI_ROLE, settings.ROOT_URLCONF)\n"
    )
    result = python(
        code, KORAI_STEPS_NICE="0", PROMETHEUS_MULTIPROC_DIR=str(tmp_path), **PRODUCTION_ENV
    )
    assert result.stdout.split()[-3:] == [
        "korai.settings.production",
        "steps",
        "korai.urls_steps",
    ], result.stderr
