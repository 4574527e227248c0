"""Settings for the test suite: production settings (korai.settings.production) with devtools
installed (the suite tests it, and its executor drives the Inngest functions), test-only secrets
and fast hashing."""

import os
import tempfile

# The suite's settings come from here and the environment only, never from a developer's .env.
os.environ["DJANGO_READ_DOT_ENV"] = "0"
os.environ.setdefault("DJANGO_SECRET_KEY", "tests-only-" + "x" * 50)
os.environ.setdefault("DJANGO_SECURE_SSL_REDIRECT", "0")
os.environ.setdefault("DJANGO_DEBUG", "0")
# Production-mode Inngest with test keys, so signature checks are exercised by default.
os.environ.setdefault("INNGEST_DEV", "")
os.environ.setdefault("INNGEST_EVENT_KEY", "test-event-key")
os.environ.setdefault("INNGEST_SIGNING_KEY", "signkey-test-" + "ab" * 32)
os.environ.setdefault("INNGEST_BASE_URL", "http://127.0.0.1:9")  # nothing listens there
# Delivery finishes before the response does, so tests can assert on it; the background sender
# has tests of its own (tests/outbox/test_dispatch.py).
os.environ.setdefault("OUTBOX_DELIVERY", "inline")
# Every /readyz/ probes afresh, so a test that changes a dependency sees it at once; the reuse of
# probe outcomes has tests of its own (tests/operations/test_health.py).
os.environ.setdefault("KORAI_READINESS_CACHE_SECONDS", "0")
# No object storage unless a test asks for one (the `s3` fixture: a local moto server). boto3
# reads credentials from the environment: test ones, never a developer's real keys.
os.environ["AWS_S3_BUCKET_NAME"] = ""
os.environ["AWS_S3_ENDPOINT_URL"] = ""
os.environ["AWS_ACCESS_KEY_ID"] = "testing"
os.environ["AWS_SECRET_ACCESS_KEY"] = "testing"
os.environ.pop("AWS_SESSION_TOKEN", None)
os.environ.pop("AWS_PROFILE", None)

from korai.settings.production import *  # noqa: F403
from korai.settings.production import BASE_DIR, DATABASES, INSTALLED_APPS  # noqa: F401  (named)

INSTALLED_APPS = [*INSTALLED_APPS, "devtools"]

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
# No collectstatic here: whitenoise would warn about the missing STATIC_ROOT on every start.
STATIC_ROOT = None
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
# No handler on stdout (pytest shows what matters); structlog is configured as in production, so
# tests that attach core.logging.json_formatter() to a handler see the production lines.
LOGGING = {"version": 1, "disable_existing_loggers": False}

if DATABASES["default"]["ENGINE"].endswith(".sqlite3"):
    # A file, not the in-memory default: in-memory SQLite shared between threads (live servers,
    # the outbox sender) fails at once with "table is locked" instead of waiting its turn.
    # One file per test process, so concurrent runs never share it.
    DATABASES["default"]["TEST"] = {
        "NAME": os.path.join(tempfile.gettempdir(), f"korai-test-{os.getpid()}.sqlite3")
    }
