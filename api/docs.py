"""The API docs page and its Content-Security-Policy (who may read it: api.permissions)."""

from functools import lru_cache
from pathlib import Path
from urllib.parse import urlsplit

from csp.constants import SELF, UNSAFE_INLINE
from csp.decorators import csp_update
from django.contrib.staticfiles import finders
from django.http import HttpResponse
from drf_spectacular.settings import spectacular_settings
from drf_spectacular.views import SpectacularSwaggerSplitView


class SwaggerView(SpectacularSwaggerSplitView):
    """Swagger UI with its set-up script served as a file (`?script=`), so the page needs no
    inline script. OPTIONS is a 405: DRF's metadata answer has no HTML template (a 500)."""

    metadata_class = None


# Redoc's bundle draws the side menu's "API docs by Redocly" logo from Redocly's CDN, which the
# policy blocks: an error in every visitor's console. No Redoc option turns it off, so the page
# loads the bundle from here (SPECTACULAR_SETTINGS["REDOC_DIST"]) with that one address emptied:
# the image then fails at once, without a request, and Redoc hides it.
REDOC_BUNDLE = "drf_spectacular_sidecar/redoc/bundles/redoc.standalone.js"
REDOC_CDN_LOGO = 'src:"https://cdn.redoc.ly/redoc/logo-mini.svg"'


def redoc_bundle(request) -> HttpResponse:
    return HttpResponse(
        _redoc_bundle(),
        content_type="text/javascript; charset=utf-8",
        headers={"Cache-Control": "public, max-age=86400"},
    )


@lru_cache(maxsize=1)
def _redoc_bundle() -> bytes:
    source = Path(finders.find(REDOC_BUNDLE)).read_text(encoding="utf-8")
    if REDOC_CDN_LOGO not in source:
        # A new Redoc release moved it: fail the tests here, not silently in browsers.
        raise RuntimeError(f"{REDOC_BUNDLE} no longer loads its logo from the CDN as expected")
    return source.replace(REDOC_CDN_LOGO, 'src:""').encode()


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
