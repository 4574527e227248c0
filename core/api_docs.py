"""Who may read the API docs and schema, and the docs pages' Content-Security-Policy."""

from urllib.parse import urlsplit

from csp.constants import SELF, UNSAFE_INLINE
from csp.decorators import csp_update
from django.conf import settings
from drf_spectacular.settings import spectacular_settings
from rest_framework.permissions import BasePermission


class ApiDocsPermission(BasePermission):
    """Anyone when KORAI_API_DOCS_PUBLIC, else signed-in users (a token or an admin session).
    Read per request, so changing the setting needs no URLconf reload."""

    def has_permission(self, request, view) -> bool:
        user = request.user
        return settings.KORAI_API_DOCS_PUBLIC or bool(user and user.is_authenticated)


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
