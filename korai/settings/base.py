"""The settings every module of this package shares, read from the environment (see
`.env.example` for every variable). Django loads one of the modules built on them, never this
one: production.py (the servers), development.py (manage.py's default) or tests/settings.py.

Without `DJANGO_DEBUG=1` the service refuses to start unless `DJANGO_SECRET_KEY` is set, and it
runs with HTTPS-only cookies and HSTS behind a proxy. Which requests a process serves is its
role, `KORAI_ROLE` (roles.py), in any of the modules.
"""

import logging
from datetime import timedelta
from pathlib import Path

from corsheaders.defaults import default_headers as cors_default_headers
from csp.constants import NONCE, NONE, SELF

from core.configuration import ConfigurationError
from core.logging import logging_config
from korai.env import Env, read_dot_env
from korai.settings import roles

BASE_DIR = Path(__file__).resolve().parents[2]

env = Env()  # a malformed value stops the start with one line naming it
# Local development keeps its settings in .env (`make run` creates it); variables set in the
# environment win over the file. korai/wsgi.py and asgi.py (production servers), the test suite
# and the benchmarks set DJANGO_READ_DOT_ENV=0, so they never read it.
read_dot_env()

DEBUG = env.bool("DJANGO_DEBUG", default=False)

SECRET_KEY = env.str("DJANGO_SECRET_KEY", default="")
if not SECRET_KEY:
    if not DEBUG:
        raise ConfigurationError(
            "DJANGO_SECRET_KEY: not set; expected 50+ random characters "
            "(or set DJANGO_DEBUG=1 for local development)"
        )
    SECRET_KEY = "korai-local-development-only-never-use-in-production-0123456789"  # noqa: S105

ALLOWED_HOSTS = env.list(
    "DJANGO_ALLOWED_HOSTS", default=["127.0.0.1", "localhost"] if DEBUG else []
)
CSRF_TRUSTED_ORIGINS = env.list("DJANGO_CSRF_TRUSTED_ORIGINS", default=[])

INSTALLED_APPS = [
    "operations.admin_site.KoraiAdminConfig",  # django.contrib.admin with Korai's site
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "rest_framework",
    "rest_framework.authtoken",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "corsheaders",
    "django_prometheus",
    "django_structlog",
    "accounts",
    "videos",
    "clips",
    "exports",
    "outbox",
    "webclient",
    "operations",
    "inngest_endpoint",
    "axes",
    "csp",
]
# devtools (the development executor, the clips sandbox, the local S3 store) is not here: only
# development.py and the test settings install it.

# Which requests this process serves (roles.py): "api" (REST API, admin), "steps"
# (/api/inngest only) or "all" (both, the default). Each role declares its own URLconf and
# middleware.
KORAI_ROLE = env.choice("KORAI_ROLE", choices=tuple(roles.ROLES), default="all")
_role = roles.ROLES[KORAI_ROLE]
ROOT_URLCONF = _role.urlconf
MIDDLEWARE = list(_role.middleware)
SILENCED_SYSTEM_CHECKS = list(_role.silenced_system_checks)

WSGI_APPLICATION = "korai.wsgi.application"
AUTH_USER_MODEL = "accounts.User"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

# --- Database ---------------------------------------------------------------------------------
# SQLite by default; PostgreSQL (psycopg 3) through DATABASE_URL. Connections are reused for
# DATABASE_CONN_MAX_AGE seconds and health-checked before reuse, which suits gunicorn's sync
# workers better than a per-process pool.
DATABASES = {"default": env.db("DATABASE_URL", default=f"sqlite:///{BASE_DIR / 'db.sqlite3'}")}
DATABASES["default"]["CONN_MAX_AGE"] = env.int("DATABASE_CONN_MAX_AGE", default=60)
DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
if _role.pooled_database and DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
    # The steps pool has many threads, most of them asleep on a clips API: they share a few
    # pooled connections per process (psycopg_pool) instead of keeping one each, which would
    # exhaust PostgreSQL's max_connections.
    DATABASES["default"]["CONN_MAX_AGE"] = 0
    DATABASES["default"].setdefault("OPTIONS", {})["pool"] = {
        "min_size": 1,
        "max_size": env.int("KORAI_STEPS_DB_POOL_SIZE", default=8),
        "timeout": 30,
    }
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # Runserver, the Inngest steps and the management commands write concurrently: take the
    # write lock at BEGIN and wait for it instead of failing with "database is locked".
    DATABASES["default"]["OPTIONS"] = {
        "transaction_mode": "IMMEDIATE",
        "timeout": 20,
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
    }
# django-prometheus's wrappers of the same backends count queries, errors and connections.
_ENGINE = DATABASES["default"]["ENGINE"]
if _ENGINE in ("django.db.backends.postgresql", "django.db.backends.sqlite3"):
    DATABASES["default"]["ENGINE"] = "django_prometheus.db.backends." + _ENGINE.rsplit(".", 1)[1]
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Login throttling (django-axes) --------------------------------------------------------------
# After KORAI_LOGIN_FAILURE_LIMIT wrong passwords for one username from one address, that pair is
# locked out (429) for KORAI_LOGIN_LOCKOUT_MINUTES; a correct login resets the count. Unlock
# earlier with `python manage.py axes_reset` (everyone), `axes_reset_username <name>` or
# `axes_reset_ip <address>`, or delete the row under Axes > Access attempts in the admin.
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
AXES_FAILURE_LIMIT = env.int("KORAI_LOGIN_FAILURE_LIMIT", default=5)
AXES_COOLOFF_TIME = timedelta(minutes=env.int("KORAI_LOGIN_LOCKOUT_MINUTES", default=15))
# Username and address together: a guesser is stopped without locking the user out everywhere.
# (Behind a proxy every address is the proxy's, which makes this a per-username limit.)
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_VERBOSE = False  # no start-up banner on stdout (management commands print there)

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True
# The admin's times to the second (korai/formats/en/formats.py).
FORMAT_MODULE_PATH = ["korai.formats"]

# --- Static files (whitenoise) ----------------------------------------------------------------
STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"
        if DEBUG
        else "whitenoise.storage.CompressedManifestStaticFilesStorage"
    },
}

# --- Security (production sits behind a TLS-terminating proxy) --------------------------------
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
if not DEBUG:
    SECURE_SSL_REDIRECT = env.bool("DJANGO_SECURE_SSL_REDIRECT", default=True)
    # Health checks and a self-hosted Inngest may reach the app over plain HTTP inside the
    # network; a redirect would lose the executor's POST (its requests are HMAC-signed anyway).
    # `api/inngest/` too: api.middleware serves it as `api/inngest`, after this check.
    SECURE_REDIRECT_EXEMPT = [r"^healthz/$", r"^readyz/$", r"^metrics$", r"^api/inngest/?$"]
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SECURE_HSTS_SECONDS = env.int("DJANGO_SECURE_HSTS_SECONDS", default=60 * 60 * 24 * 365)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = True

# --- Logging: one JSON object per line on stdout in production (core/logging.py) -------------
# --- Request body limits (api/request_limits.py): path prefix -> bytes, longest prefix wins ---
# The API's largest legitimate body (an export of 20 clips with a subtitle style) is about 3 KB.
KORAI_MAX_BODY_BYTES = {
    "/": env.int("KORAI_MAX_BODY_BYTES", default=2_621_440),  # the admin's forms: Django's
    "/api/": env.int("KORAI_API_MAX_BODY_BYTES", default=64 * 1024),
    # A function run carries its event and every memoized step: see INNGEST_MAX_BODY_BYTES.
    "/api/inngest": "INNGEST_MAX_BODY_BYTES",
}

# --- Error shapes (api/errors.py): path prefix -> how an error is rendered there ----------------
# Korai's shape is {"error": {"code", "message", "fields"?}}; the original Next.js client's
# routes read {"error": "<sentence>"}.
KORAI_API_ERROR_SHAPES = {"/api/clips/": "webclient.errors.client_error_body"}

# --- Content-Security-Policy (django-csp) on every answer -----------------------------------------
# Only this origin's scripts and styles; the admin's one inline <style> carries the per-request
# nonce. The API docs relax style-src for Swagger UI / Redoc (korai/urls.py), never script-src.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [SELF],
        "script-src": [SELF],
        "style-src": [SELF, NONCE],
        "img-src": [SELF, "data:"],
        "font-src": [SELF],
        "connect-src": [SELF],
        "object-src": [NONE],
        "base-uri": [NONE],
        "frame-ancestors": [NONE],
        "form-action": [SELF],
    }
}
# /api/docs/ and /api/schema/: public, or for signed-in users only (the default in production).
KORAI_API_DOCS_PUBLIC = env.bool("KORAI_API_DOCS_PUBLIC", default=DEBUG)

# --- Logging: one JSON object per line on stdout in production --------------------------------
LOG_LEVEL = env.choice(
    "DJANGO_LOG_LEVEL", choices=("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"), default="INFO"
)
LOGGING = logging_config(json=not DEBUG, level=LOG_LEVEL)
# The request start is noise next to request_finished (which has the status code) at INFO.
DJANGO_STRUCTLOG_STATUS_START_LOG_LEVEL = logging.DEBUG
# A caller's X-Request-ID (a proxy's, a client's) becomes the request id of every line.
DJANGO_STRUCTLOG_TRUST_UPSTREAM_REQUEST_ID = True

# --- Monitoring ---------------------------------------------------------------------------------
# /metrics: with a token, only `Authorization: Bearer <token>`; without, loopback clients only.
# The same token shows /readyz/'s details (operations/health.py).
METRICS_TOKEN = env.str("METRICS_TOKEN", default="")
# Seconds a readiness probe's outcome is reused by this process (0: probe on every request), so a
# flood of /readyz/ requests makes at most one S3 HEAD and one event-API POST per interval.
KORAI_READINESS_CACHE_SECONDS = env.float("KORAI_READINESS_CACHE_SECONDS", default=5.0)

# --- REST API -----------------------------------------------------------------------------------
REST_FRAMEWORK = {
    # Token first: its WWW-Authenticate header makes an unauthenticated request a 401 (with
    # session first DRF answers 403). Either one authenticates.
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "api.authentication.CachedTokenAuthentication",
        "api.authentication.SessionCookieAuthentication",
        # Clerk session tokens (the web client's): only when CLERK_* is configured.
        "api.authentication.ClerkSessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    # Hardened JSON only (api/parsers.py, api/renderers.py): no form posts to half-parse.
    "DEFAULT_PARSER_CLASSES": ["api.parsers.JSONParser"],
    "DEFAULT_RENDERER_CLASSES": ["api.renderers.JSONRenderer"]
    + (["rest_framework.renderers.BrowsableAPIRenderer"] if DEBUG else []),
    "DEFAULT_PAGINATION_CLASS": "api.pagination.StandardPagination",
    "PAGE_SIZE": 20,
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "api.errors.api_exception_handler",
    "DEFAULT_THROTTLE_RATES": {
        "video_submit": env.rate("KORAI_THROTTLE_VIDEO_SUBMIT", default="30/hour"),
        "export_create": env.rate("KORAI_THROTTLE_EXPORT_CREATE", default="60/hour"),
    },
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Korai API",
    "DESCRIPTION": "Turn a YouTube video into AI-picked viral clips and export them.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SERVE_PERMISSIONS": ["api.permissions.ApiDocsPermission"],
    "COMPONENT_SPLIT_REQUEST": True,
    # Swagger UI and Redoc from drf-spectacular-sidecar's static files, at the version pinned in
    # requirements.txt, not from a CDN: /api/docs/ works offline and never changes under us.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    # Redoc's bundle, from the sidecar, served by api.docs.redoc_bundle (without its CDN logo).
    "REDOC_DIST": "/api/redoc",
}
# Seconds a token's user is remembered between API requests (0: look it up every time).
KORAI_TOKEN_CACHE_SECONDS = env.int("KORAI_TOKEN_CACHE_SECONDS", default=30)
# --- Clerk session tokens (JWT) and CORS, for the web client ------------------------------------
# JWT authentication is on when either key source is set: a PEM public key (escaped newlines
# "\n" are accepted, for one-line environment values) or the instance's JWKS URL.
CLERK_JWT_KEY = env.str("CLERK_JWT_KEY", default="").replace("\\n", "\n").strip()
CLERK_JWKS_URL = env.http_url("CLERK_JWKS_URL")
CLERK_ISSUER = env.http_url("CLERK_ISSUER")
CLERK_AUTHORIZED_PARTIES = env.list("CLERK_AUTHORIZED_PARTIES", default=[])
CLERK_AUDIENCE = env.list("CLERK_AUDIENCE", default=[])
CLERK_JWT_LEEWAY_SECONDS = env.int("CLERK_JWT_LEEWAY_SECONDS", default=5)
CLERK_JWKS_CACHE_SECONDS = env.int("CLERK_JWKS_CACHE_SECONDS", default=300)
# At most one JWKS fetch per cooldown and process, failed fetches included (integrations/clerk.py).
CLERK_JWKS_REFRESH_COOLDOWN_SECONDS = env.float("CLERK_JWKS_REFRESH_COOLDOWN_SECONDS", default=30)
CLERK_JWKS_TIMEOUT_SECONDS = env.float("CLERK_JWKS_TIMEOUT_SECONDS", default=5.0)
if CLERK_JWT_KEY and not CLERK_JWT_KEY.startswith("-----BEGIN PUBLIC KEY-----"):
    raise ConfigurationError(
        "CLERK_JWT_KEY: expected a PEM public key (-----BEGIN PUBLIC KEY-----…), got "
        f"{CLERK_JWT_KEY[:20]!r}…"
    )

# Browsers may call the API from these origins, with cookies (credentials); django-cors-headers
# answers every other origin without any CORS header, so the browser keeps the answer from it.
CORS_ALLOWED_ORIGINS = env.list("CORS_ALLOWED_ORIGINS", default=[])
CORS_ALLOW_CREDENTIALS = True
CORS_URLS_REGEX = r"^/api/(?!inngest).*$"  # Inngest calls server to server
CORS_ALLOW_HEADERS = (*cors_default_headers, "idempotency-key")

CACHES = {
    # API throttle counters live here; set CACHE_URL (e.g. redis://) when running more than one
    # process so they are shared. (Idempotency keys are in the database: videos.Video.)
    "default": env.cache("CACHE_URL", default="locmemcache://korai"),
}

# --- Inngest ------------------------------------------------------------------------------------
# INNGEST_DEV: "1" (or a Dev Server URL) for local development, where no keys are needed.
INNGEST_DEV = env.str("INNGEST_DEV", default="")
INNGEST_EVENT_KEY = env.str("INNGEST_EVENT_KEY", default="")
INNGEST_SIGNING_KEY = env.str("INNGEST_SIGNING_KEY", default="")
INNGEST_SIGNING_KEY_FALLBACK = env.str("INNGEST_SIGNING_KEY_FALLBACK", default="")
INNGEST_BASE_URL = env.http_url("INNGEST_BASE_URL")
# Where operators open a run; empty: the Dev Server's UI in dev mode, Inngest Cloud otherwise
# (`core.inngest.dashboard_url`, which reads INNGEST_DEV as everything else does).
INNGEST_DASHBOARD_URL = env.http_url("INNGEST_DASHBOARD_URL")
# Signed requests older than this are refused, so a captured request cannot be replayed.
INNGEST_SIGNATURE_MAX_AGE_SECONDS = env.int("INNGEST_SIGNATURE_MAX_AGE_SECONDS", default=300)
# Largest request body /api/inngest accepts: Inngest sends at most 4 MB (above that, `use_api`:
# the SDK fetches the run's state from Inngest's API), with room here for JSON canonicalization.
# Every other path keeps Django's 2.5 MB.
INNGEST_MAX_BODY_BYTES = env.int("INNGEST_MAX_BODY_BYTES", default=5 * 1024 * 1024)
# Inngest's syncs are signed. An unsigned PUT (`curl -X PUT .../api/inngest`) makes the app
# register itself with Inngest on anyone's behalf: refused (401) unless this is set.
INNGEST_ALLOW_UNSIGNED_SYNC = env.bool("INNGEST_ALLOW_UNSIGNED_SYNC", default=False)
# The URL a sync registers, which Inngest then calls for every step: by default the origin and
# path the syncing request reached (`request.build_absolute_uri()`, which behind a proxy needs
# its Host and X-Forwarded-Proto headers). Set them when Inngest reaches the steps pool at
# another public origin, or through a proxy at another path; Korai still serves /api/inngest.
INNGEST_SERVE_ORIGIN = env.origin("INNGEST_SERVE_ORIGIN")
INNGEST_SERVE_PATH = env.url_path("INNGEST_SERVE_PATH")
# Inngest cuts a function's retries to 20 without a word: more is refused here instead.
INNGEST_RETRIES = env.int("INNGEST_RETRIES", default=3, between=(0, 20))
INNGEST_CONCURRENCY_PER_USER = env.int("INNGEST_CONCURRENCY_PER_USER", default=2)
INNGEST_CONCURRENCY_GLOBAL = env.int("INNGEST_CONCURRENCY_GLOBAL", default=10)
# Sending an event from a request: one short attempt; resend_events delivers what it misses.
INNGEST_SEND_TIMEOUT_SECONDS = env.float("INNGEST_SEND_TIMEOUT_SECONDS", default=1.0)
# 1: no Inngest here; the development executor (`manage.py dev_executor`, which scripts/run.sh
# starts when no Dev Server does) takes the outbox's events. Nothing then POSTs to the event API,
# readiness does not probe it, and the messages name the executor. Development only.
KORAI_DEV_EXECUTOR_RUNNING = env.bool("KORAI_DEV_EXECUTOR_RUNNING", default=False)
# "background": a per-process thread sends committed events, so requests never wait on Inngest;
# "inline": the committing request sends them itself (tests that need delivery done on return).
OUTBOX_DELIVERY = env.choice(
    "OUTBOX_DELIVERY", choices=("background", "inline"), default="background"
)

# --- External clips APIs ------------------------------------------------------------------------
CLIPS_API_URL = env.http_url("CLIPS_API_URL")
PROCESS_CLIPS_API_URL = env.http_url("PROCESS_CLIPS_API_URL")
CLIPS_API_TOKEN = env.str("CLIPS_API_TOKEN", default="")
CLIPS_API_FALLBACK_URL = env.http_url("CLIPS_API_FALLBACK_URL")
PROCESS_CLIPS_API_FALLBACK_URL = env.http_url("PROCESS_CLIPS_API_FALLBACK_URL")
CLIPS_API_CONNECT_TIMEOUT_SECONDS = env.float("CLIPS_API_CONNECT_TIMEOUT_SECONDS", default=5.0)
# Identifying clips downloads and analyses the whole video: allow it real time. The longest
# one call may take, its waits on the result URL included; one request waits at most
# CLIPS_API_REDIRECT_INTERVAL_SECONDS + 30 s of it (integrations/clips_api.py).
CLIPS_API_READ_TIMEOUT_SECONDS = env.float("CLIPS_API_READ_TIMEOUT_SECONDS", default=900.0)
# How long the service holds a request before it answers `303` to its result URL (Modal web
# endpoints: 150 s). A step sends one request, so no /api/inngest request outlasts it + 30 s.
CLIPS_API_REDIRECT_INTERVAL_SECONDS = env.float(
    "CLIPS_API_REDIRECT_INTERVAL_SECONDS", default=150.0
)

# --- Object storage (integrations/storage.py) -----------------------------------------------------
# The bucket the clips service writes to; empty: no storage (answers carry no download URLs).
# Credentials: the standard AWS variables (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, a profile
# or an instance role), read by boto3 itself.
AWS_S3_BUCKET_NAME = env.str("AWS_S3_BUCKET_NAME", default="")
AWS_REGION = env.str("AWS_REGION", default="us-east-1")
# Only for S3-compatible stores (MinIO, a local moto server): their base URL.
AWS_S3_ENDPOINT_URL = env.http_url("AWS_S3_ENDPOINT_URL")
AWS_S3_CONNECT_TIMEOUT_SECONDS = env.float("AWS_S3_CONNECT_TIMEOUT_SECONDS", default=5.0)
AWS_S3_READ_TIMEOUT_SECONDS = env.float("AWS_S3_READ_TIMEOUT_SECONDS", default=60.0)
# Lifetime of the presigned download URLs in API answers.
KORAI_DOWNLOAD_URL_EXPIRES_SECONDS = env.int("KORAI_DOWNLOAD_URL_EXPIRES_SECONDS", default=3600)
# Removing a deleted video's objects (`delete-video-objects`): retries while storage is down
# (Inngest allows up to 20, spread over hours by its back-off), and the wait before the second
# sweep, which takes what a clips-API call in flight at the delete wrote afterwards.
KORAI_CLEANUP_RETRIES = env.int("KORAI_CLEANUP_RETRIES", default=20, between=(0, 20))
# Copying an export's rendered clips to its keys (`copy-rendered-clips`): tries again while
# storage is down, each after a wait of Inngest's back-off table (15 s … 2 h), so 20 cover a
# day; the render is never paid again.
KORAI_COPY_RETRIES = env.int("KORAI_COPY_RETRIES", default=20, between=(0, 100))
KORAI_CLEANUP_SWEEP_DELAY_SECONDS = env.int(
    "KORAI_CLEANUP_SWEEP_DELAY_SECONDS", default=int(CLIPS_API_READ_TIMEOUT_SECONDS) + 60
)

# --- Product limits -----------------------------------------------------------------------------
KORAI_PROMPT_MAX_LENGTH = env.int("KORAI_PROMPT_MAX_LENGTH", default=1000)
KORAI_EXPORT_MAX_CLIPS = env.int("KORAI_EXPORT_MAX_CLIPS", default=20)
KORAI_EXPORT_MAX_CLIP_SECONDS = env.float("KORAI_EXPORT_MAX_CLIP_SECONDS", default=180.0)
# BCP-47 tags an export may be translated to (exports/languages.py): the processing API's, as
# the original web client offers them. `od-IN` is the service's tag for Odia; send it so.
KORAI_TARGET_LANGUAGES = env.list(
    "KORAI_TARGET_LANGUAGES",
    default=["es-ES", "ja-JP", "ko-KR", "en-US", "ru-RU", "nl-NL", "pl-PL", "hi-IN", "od-IN"],
)
# The admin counts a pending/processing job with no progress for this long as stuck (dashboard,
# "stuck" filter, "run again" action).
KORAI_STUCK_AFTER_MINUTES = env.int("KORAI_STUCK_AFTER_MINUTES", default=30)
# Reconciliation (`reconcile-jobs`, every 5 minutes) looks at a pending/processing job with no
# progress for this long and settles it if the engine has nothing running for it.
KORAI_RECONCILE_AFTER_MINUTES = env.int("KORAI_RECONCILE_AFTER_MINUTES", default=10)
