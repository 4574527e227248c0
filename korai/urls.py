from django.conf import settings
from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularRedocView

from api.docs import SwaggerView, docs_csp, redoc_bundle
from core.inngest import inngest_client, serve
from exports.functions import process_clips, process_clips_endings
from inngest_endpoint.guard import guarded
from operations.dashboard import dashboard
from operations.functions import reconcile_jobs
from operations.metrics import metrics
from outbox.functions import resend_undelivered_events
from videos.functions import delete_video_objects, identify_clips, identify_clips_endings

# Under /api/ a 500 is JSON in the API's error shape (a 503 when the database is down).
handler500 = "api.errors.server_error"


async def healthz(request):
    # operations.health (django-health-check, and the redis and DNS clients it imports) loads on the
    # first probe instead of at every process start (manage.py commands load this URLconf).
    from operations.health import liveness

    return await liveness(request)


async def readyz(request):
    from operations.health import readiness

    return await readiness(request)


# The functions Inngest runs, served at /api/inngest.
FUNCTIONS = [
    identify_clips,
    *identify_clips_endings,
    process_clips,
    *process_clips_endings,
    delete_video_objects,
    resend_undelivered_events,
    reconcile_jobs,
]
inngest_endpoint = guarded(
    serve(client=inngest_client, functions=FUNCTIONS), client=inngest_client, functions=FUNCTIONS
)

urlpatterns = [
    # Before admin.site.urls, whose catch-all would answer 404 for an unknown app label.
    path("admin/dashboard/", admin.site.admin_view(dashboard), name="admin-dashboard"),
    path("admin/", admin.site.urls),
    path("api/", include("videos.urls")),
    path("api/", include("exports.urls")),
    path("api/", include("webclient.urls")),  # the original Next.js client's /api/clips/…
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    path("api/docs/", docs_csp(SwaggerView.as_view(url_name="schema")), name="docs"),
    path("api/redoc/", docs_csp(SpectacularRedocView.as_view(url_name="schema")), name="redoc"),
    path("api/redoc/bundles/redoc.standalone.js", redoc_bundle, name="redoc-bundle"),
    path("healthz/", healthz, name="healthz"),
    path("readyz/", readyz, name="readyz"),
    path("metrics", metrics, name="metrics"),
    # The api pool leaves /api/inngest to the steps pool (korai/urls_steps.py).
    *([inngest_endpoint] if settings.KORAI_ROLE != "api" else []),
]
