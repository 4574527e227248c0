"""The API docs page and its Content-Security-Policy (who may read it: api.permissions)."""

from urllib.parse import urlsplit

from csp.constants import SELF, UNSAFE_INLINE
from csp.decorators import csp_update
from drf_spectacular.settings import spectacular_settings
from drf_spectacular.views import SpectacularSwaggerSplitView


class SwaggerView(SpectacularSwaggerSplitView):
    """Swagger UI with its set-up script served as a file (`?script=`), so the page needs no
    inline script. OPTIONS is a 405: DRF's metadata answer has no HTML template (a 500)."""

    metadata_class = None


def docs_csp(view):
    """The site's policy, relaxed for Swagger UI / Redoc: their UIs write inline styles and
    Redoc runs a blob: worker. Scripts stay files: of this origin (self-hosted assets), or of
    the assets' CDN when drf-spectacular is configured to load them from one."""
    origins = _asset_origins()
    return csp_update(
        {
            "script-src": origins,
            "style-src": [UNSAFE_INLINE, *origins],
            "img-src": origins,
            "worker-src": [SELF, "blob:"],
        }
    )(view)


def _asset_origins() -> list[str]:
    origins = []
    for dist in (spectacular_settings.SWAGGER_UI_DIST, spectacular_settings.REDOC_DIST):
        parts = urlsplit(str(dist))
        if parts.scheme in ("http", "https") and parts.netloc:
            origins.append(f"{parts.scheme}://{parts.netloc}")
    return sorted(set(origins))
