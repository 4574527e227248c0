"""The URLconf of the steps pool (`KORAI_ROLE=steps`): only `/api/inngest`, the probes and
`/metrics`. Steps can wait minutes on a clips API; in a pool of their own they never hold a thread
that the REST API or the admin needs."""

from django.urls import path

from korai.urls import healthz, inngest_endpoint, metrics, readyz

urlpatterns = [
    path("healthz/", healthz, name="healthz"),
    path("readyz/", readyz, name="readyz"),
    # The steps pool's own counters (steps, external API calls): scrape both pools.
    path("metrics", metrics, name="metrics"),
    inngest_endpoint,
]
