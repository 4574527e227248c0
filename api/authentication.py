"""API authentication: DRF tokens (cached), Clerk session tokens (JWTs) and the admin's session.

Each class notes on the request the header its credentials came from (`credentials_read`):
api.middleware.PrivateAnswerMiddleware then keeps shared caches from storing the answer and
varies it on that header.

Token authentication remembers a token's user for a few seconds.

Every API request authenticates, and the polling endpoint is mostly authentication: DRF's
`TokenAuthentication` spends a query and two model instances on each one. This keeps the user
in the cache for `KORAI_TOKEN_CACHE_SECONDS`. Deleting a token (`drf_create_token -r`, the
admin) or changing its user (deactivation) drops the entry at once in the cache that process
uses: with a shared cache (`CACHE_URL=redis://…`) everywhere, with the per-process default only
in that process, so other processes may accept a revoked token until the entry expires."""

import hashlib
import re
from urllib.parse import urlsplit

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.cache import cache
from django.db import IntegrityError, transaction
from drf_spectacular.authentication import SessionScheme
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework import exceptions
from rest_framework.authentication import (
    BaseAuthentication,
    SessionAuthentication,
    TokenAuthentication,
    get_authorization_header,
)
from rest_framework.authtoken.models import Token
from rest_framework.permissions import SAFE_METHODS

from integrations import clerk

# The HttpRequest attribute naming the header whose credentials authenticated the request.
CREDENTIALS_HEADER = "korai_credentials_header"


def credentials_read(request, header: str) -> None:
    """Note that `request` (DRF's) was authenticated by the credentials in `header`
    ("Authorization" or "Cookie")."""
    setattr(request._request, CREDENTIALS_HEADER, header)


def token_cache_key(key: str) -> str:
    # A digest, not the token: cache keys end up in logs and monitoring.
    return "korai:auth-token:" + hashlib.sha256(key.encode()).hexdigest()


def token_cache_forget(key: str) -> None:
    cache.delete(token_cache_key(key))


# What a DRF token looks like (rest_framework.authtoken: 20 random bytes in hex); a Clerk session
# token is a JWT, never this.
_DRF_TOKEN = re.compile(rb"[0-9a-f]{40}")


class CachedTokenAuthentication(TokenAuthentication):
    def authenticate(self, request):
        header = get_authorization_header(request).split()
        if len(header) == 2 and header[0].lower() == b"bearer" and _DRF_TOKEN.fullmatch(header[1]):
            # Otherwise nothing authenticates it, and the answer would be "credentials were not
            # provided" to someone who provided them.
            raise exceptions.AuthenticationFailed(
                "An API token goes in 'Authorization: Token <token>', not 'Bearer' (which is "
                "for Clerk session tokens)."
            )
        authenticated = super().authenticate(request)
        if authenticated is not None:
            credentials_read(request, "Authorization")
        return authenticated

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


class SessionCookieAuthentication(SessionAuthentication):
    """DRF's session authentication (a signed-in admin's session cookie)."""

    def authenticate(self, request):
        authenticated = super().authenticate(request)
        if authenticated is not None:
            credentials_read(request, "Cookie")
        return authenticated


class SessionCookieScheme(SessionScheme):
    """The schema describes it as DRF's session authentication."""

    target_class = SessionCookieAuthentication


SESSION_COOKIE = "__session"  # where Clerk's frontend keeps the session token


def clerk_cache_key(subject: str) -> str:
    return "korai:auth-clerk:" + hashlib.sha256(subject.encode()).hexdigest()


def clerk_cache_forget(subject: str) -> None:
    cache.delete(clerk_cache_key(subject))


class ClerkServiceUnavailable(exceptions.APIException):
    status_code = 503
    default_detail = "Sign-in cannot be checked right now; try again shortly."
    default_code = "auth_unavailable"


class ClerkSessionAuthentication(BaseAuthentication):
    """A Clerk session token (JWT) from `Authorization: Bearer <jwt>` or the `__session`
    cookie; its `sub` is the Korai user, created the first time it is seen. Off (no opinion)
    unless `CLERK_JWT_KEY` or `CLERK_JWKS_URL` is set.

    The cookie is sent by the browser on its own, so a request authenticated by it that changes
    something must come from a trusted origin (CSRF): its `Origin` (or, without one, `Referer`)
    must be this site, one of `CLERK_AUTHORIZED_PARTIES`, `CORS_ALLOWED_ORIGINS` or
    `DJANGO_CSRF_TRUSTED_ORIGINS`. A Bearer header cannot be forged by another site, so it needs
    no such check."""

    keyword = "Bearer"

    def authenticate(self, request):
        if not clerk.enabled():
            return None
        token, from_cookie = self._token(request)
        if token is None:
            return None
        if from_cookie and request.method not in SAFE_METHODS:
            self._check_origin(request)
        try:
            claims = clerk.verify_session_token(token)
        except clerk.KeysUnavailable as exc:
            raise ClerkServiceUnavailable() from exc
        except clerk.InvalidSessionToken as exc:
            raise exceptions.AuthenticationFailed(str(exc)) from exc
        user = self._user(claims["sub"])
        credentials_read(request, "Cookie" if from_cookie else "Authorization")
        return user, claims

    def authenticate_header(self, request):
        return self.keyword

    def _token(self, request) -> tuple[str | None, bool]:
        header = get_authorization_header(request).split()
        if header and header[0].lower() == self.keyword.lower().encode():
            if len(header) != 2:
                raise exceptions.AuthenticationFailed("Give one token after 'Bearer'.")
            try:
                return header[1].decode("ascii"), False
            except UnicodeError:
                raise exceptions.AuthenticationFailed("The token is not ASCII.") from None
        if header:
            return None, False  # another scheme (Token …): another class's business
        cookie = request.COOKIES.get(SESSION_COOKIE)
        return (cookie, True) if cookie else (None, False)

    def _check_origin(self, request) -> None:
        origin = request.headers.get("Origin")
        if origin is None and (referer := request.headers.get("Referer")):
            parts = urlsplit(referer)
            origin = f"{parts.scheme}://{parts.netloc}" if parts.scheme and parts.netloc else ""
        trusted = {
            f"{request.scheme}://{request.get_host()}",
            *settings.CLERK_AUTHORIZED_PARTIES,
            *settings.CORS_ALLOWED_ORIGINS,
            *settings.CSRF_TRUSTED_ORIGINS,
        }
        if not origin or origin not in trusted:
            raise exceptions.PermissionDenied(
                "CSRF check failed: a request authenticated by the session cookie must come "
                "from a trusted origin (or send the token as 'Authorization: Bearer')."
            )

    def _user(self, subject: str):
        seconds = settings.KORAI_TOKEN_CACHE_SECONDS
        cache_key = clerk_cache_key(subject)
        user = cache.get(cache_key) if seconds > 0 else None
        if user is None:
            user = _user_for_clerk_id(subject)
            if seconds > 0:
                cache.set(cache_key, user, seconds)
        if not user.is_active:
            raise exceptions.AuthenticationFailed("User inactive or deleted.")
        return user


def _user_for_clerk_id(subject: str):
    """The Korai user of a Clerk user id, created (without a usable password) when new."""
    users = get_user_model().objects
    user = users.filter(clerk_id=subject).first()
    if user is not None:
        return user
    try:
        with transaction.atomic():
            user = users.model(username=subject[:150], clerk_id=subject)
            user.set_unusable_password()
            user.save()
            return user
    except IntegrityError:
        # Another request created it first, or a local user already has this username.
        user = users.filter(clerk_id=subject).first()
        if user is None:
            raise exceptions.AuthenticationFailed(
                "This Clerk user's username is taken by another Korai user."
            ) from None
        return user


class ClerkSessionScheme(OpenApiAuthenticationExtension):
    """How the OpenAPI schema describes ClerkSessionAuthentication."""

    target_class = ClerkSessionAuthentication
    name = "clerkSession"

    def get_security_definition(self, auto_schema):
        return {
            "type": "http",
            "scheme": "bearer",
            "bearerFormat": "JWT",
            "description": "A Clerk session token; the `__session` cookie works too (writes "
            "authenticated by the cookie must come from a trusted origin).",
        }
