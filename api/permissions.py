from django.conf import settings
from rest_framework.permissions import BasePermission


class ApiDocsPermission(BasePermission):
    """Anyone when KORAI_API_DOCS_PUBLIC, else signed-in users (a token or an admin session).
    Read per request, so changing the setting needs no URLconf reload."""

    def has_permission(self, request, view) -> bool:
        user = request.user
        return settings.KORAI_API_DOCS_PUBLIC or bool(user and user.is_authenticated)
