"""The URLconf of the steps pool (`KORAI_ROLE=steps`): only `/api/inngest` and the liveness
check. Steps can wait minutes on a clips API; in a pool of their own they never hold a thread
that the REST API or the admin needs."""

from django.urls import path

from korai.urls import healthz, inngest_endpoint

urlpatterns = [
    path("healthz/", healthz, name="healthz"),
    inngest_endpoint,
]
