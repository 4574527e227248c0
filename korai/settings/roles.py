"""What each process role serves: its URLconf, its middleware, the system checks that do not
apply to it and how it holds database connections. base.py takes the role KORAI_ROLE names.

Waiting on a clips API holds a thread for as long as the GPU works, so production runs two pools
of the same code (deploy/gunicorn/): "api" for the REST API and the admin, "steps" for
/api/inngest only; "all" (the default) serves both, for runserver and simple deployments. The
role is orthogonal to the settings module: `make run` runs development settings in the api and
steps roles, the test suite runs the test settings in each of them.
"""

from dataclasses import dataclass


@dataclass(frozen=True)
class Role:
    urlconf: str
    middleware: tuple[str, ...]
    silenced_system_checks: tuple[str, ...] = ()
    # Many threads, most of them asleep on a clips API, sharing a few pooled PostgreSQL
    # connections per process (psycopg_pool) instead of keeping one each.
    pooled_database: bool = False


# The roles that serve browsers and API clients (all, api).
BROWSER_MIDDLEWARE = (
    # Outermost, so the HTTP metrics time the whole stack.
    "django_prometheus.middleware.PrometheusBeforeMiddleware",
    "django.middleware.security.SecurityMiddleware",
    # An authenticated answer private to its user (also the error answers rewritten below).
    "api.middleware.PrivateAnswerMiddleware",
    # Every /api/ answer JSON (also those of the middleware below), and /api/ paths with or
    # without the trailing slash (before CommonMiddleware's APPEND_SLASH redirect).
    "api.middleware.ApiErrorMiddleware",
    "api.middleware.ApiPathMiddleware",
    # Before anything reads a body: a body over its path's limit is a JSON 413.
    "api.request_limits.RequestSizeLimitMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    # Before CommonMiddleware, so that preflights and redirects carry the CORS headers.
    "corsheaders.middleware.CorsMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # After authentication, so request lines name the user; binds request_id for every line.
    "django_structlog.middlewares.RequestMiddleware",
    "django_prometheus.middleware.PrometheusAfterMiddleware",
    "csp.middleware.CSPMiddleware",
    # Last, as django-axes requires: answers a locked-out login with 429.
    "axes.middleware.AxesMiddleware",
)

# The steps role: signed requests from Inngest only, so no browser, session, user, form or page.
# The browser middleware (static files, CORS, sessions, authentication, messages, CSP, axes)
# cost every step about a sixth of its time (bench/inflight.py) for nothing. The order is the
# browser roles' order.
STEPS_MIDDLEWARE = (
    "django_prometheus.middleware.PrometheusBeforeMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "api.middleware.ApiErrorMiddleware",
    "api.middleware.ApiPathMiddleware",
    "api.request_limits.RequestSizeLimitMiddleware",
    "django.middleware.common.CommonMiddleware",
    # `check --deploy` wants these two, and they are cheap.
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_structlog.middlewares.RequestMiddleware",
    "django_prometheus.middleware.PrometheusAfterMiddleware",
)

ROLES = {
    "all": Role(urlconf="korai.urls", middleware=BROWSER_MIDDLEWARE),
    # korai/urls.py leaves /api/inngest out in this role: the proxy sends it to the steps pool.
    "api": Role(urlconf="korai.urls", middleware=BROWSER_MIDDLEWARE),
    "steps": Role(
        urlconf="korai.urls_steps",
        middleware=STEPS_MIDDLEWARE,
        # The admin's and axes' checks want the browser middleware; the steps pool serves no
        # admin and no login.
        silenced_system_checks=("admin.E408", "admin.E409", "admin.E410", "axes.W002"),
        pooled_database=True,
    ),
}
