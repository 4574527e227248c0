"""Benchmark settings: production settings served over plain HTTP on 127.0.0.1, PostgreSQL,
throttles lifted (the benchmark is the only client), and a bare comparison view mounted."""

import os

os.environ.setdefault("DJANGO_SECRET_KEY", "bench-only-" + "z" * 50)
os.environ.setdefault("DJANGO_ALLOWED_HOSTS", "127.0.0.1,localhost")
os.environ.setdefault("DJANGO_SECURE_SSL_REDIRECT", "0")
# A database of the benchmarks' own, whatever DATABASE_URL says: `make bench` drops and
# recreates it.
os.environ["DATABASE_URL"] = os.environ.get(
    "BENCH_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/korai_bench"
)
os.environ["DJANGO_READ_DOT_ENV"] = "0"
os.environ.setdefault("INNGEST_EVENT_KEY", "bench-event-key")
os.environ.setdefault("INNGEST_SIGNING_KEY", "signkey-bench-" + "ef" * 32)
os.environ.setdefault("KORAI_THROTTLE_VIDEO_SUBMIT", "1000000/hour")
os.environ.setdefault("KORAI_THROTTLE_EXPORT_CREATE", "1000000/hour")

from korai.settings.production import *  # noqa: F403

ROOT_URLCONF = "bench.urls" if KORAI_ROLE != "steps" else ROOT_URLCONF  # noqa: F405
MIDDLEWARE = ["bench.middleware.ServerTimingMiddleware", *MIDDLEWARE]  # noqa: F405
LOGGING = {"version": 1, "disable_existing_loggers": False, "root": {"level": "WARNING"}}
# No collectstatic here: whitenoise would warn about the missing STATIC_ROOT on every start.
STATIC_ROOT = None
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
