"""Token authentication that remembers a token's user for a few seconds.

Every API request authenticates, and the polling endpoint is mostly authentication: DRF's
`TokenAuthentication` spends a query and two model instances on each one. This keeps the user
in the cache for `KORAI_TOKEN_CACHE_SECONDS`. Deleting a token (`drf_create_token -r`, the
admin) or changing its user (deactivation) drops the entry at once in the cache that process
uses: with a shared cache (`CACHE_URL=redis://…`) everywhere, with the per-process default only
in that process, so other processes may accept a revoked token until the entry expires."""

import hashlib

from django.conf import settings
from django.core.cache import cache
from rest_framework import exceptions
from rest_framework.authentication import TokenAuthentication
from rest_framework.authtoken.models import Token


def token_cache_key(key: str) -> str:
    # A digest, not the token: cache keys end up in logs and monitoring.
    return "korai:auth-token:" + hashlib.sha256(key.encode()).hexdigest()


def token_cache_forget(key: str) -> None:
    cache.delete(token_cache_key(key))


class CachedTokenAuthentication(TokenAuthentication):
    def authenticate_credentials(self, key):
        seconds = settings.KORAI_TOKEN_CACHE_SECONDS
        if seconds <= 0:
            return super().authenticate_credentials(key)
        cache_key = token_cache_key(key)
        user = cache.get(cache_key)
        if user is None:
            user, token = super().authenticate_credentials(key)  # raises for a bad token
            cache.set(cache_key, user, seconds)
            return user, token
        if not user.is_active:
            raise exceptions.AuthenticationFailed("User inactive or deleted.")
        # The Token row is not loaded on a hit; DRF only passes it on as `request.auth`.
        return user, Token(key=key, user=user)
