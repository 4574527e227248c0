"""Verifying Clerk session tokens (JWTs), the web client's credentials.

A token is checked with PyJWT against the instance's public key: a PEM key from
`CLERK_JWT_KEY`, or the keys published at `CLERK_JWKS_URL`. It must be unexpired (within
`CLERK_JWT_LEEWAY_SECONDS` of clock skew), issued by `CLERK_ISSUER` when that is set, for one
of `CLERK_AUTHORIZED_PARTIES` (the `azp` claim, the origin that asked Clerk for it) when those
are set, for `CLERK_AUDIENCE` when that is set, and name its user in `sub` with an id shaped like
Clerk's (`user_2NNEqL2nrIRdJ194ndJqAHwEfxC`: letters, digits, `_` and `-`, at most 64).

The JWKS is cached for `CLERK_JWKS_CACHE_SECONDS`; a token whose `kid` is not in the cached set
makes it fetched again at once (Clerk rotated its keys), at most once per
`CLERK_JWKS_REFRESH_COOLDOWN_SECONDS`, so a stream of made-up `kid`s cannot hammer Clerk."""

import re
from functools import lru_cache

import jwt
from cryptography.hazmat.primitives import serialization
from django.conf import settings

ALGORITHMS = ["RS256"]  # what Clerk signs session tokens with
JWKS_TIMEOUT_SECONDS = 5.0
# A signature says who issued the token, not that its subject is harmless: a NUL would make
# PostgreSQL refuse the user query (a 500), control characters would reach logs and usernames.
SUBJECT = re.compile(r"[A-Za-z0-9_-]{1,64}")


class InvalidSessionToken(Exception):
    """The token is not a valid session token of this Clerk instance; the message says why."""


class KeysUnavailable(Exception):
    """The JWKS could not be fetched, so no token can be checked right now."""


def enabled() -> bool:
    return bool(settings.CLERK_JWT_KEY or settings.CLERK_JWKS_URL)


def verify_session_token(token: str) -> dict:
    """The token's claims, once every check above has passed."""
    key = _verification_key(token)
    options = {"require": ["exp", "iat", "sub"], "verify_aud": bool(settings.CLERK_AUDIENCE)}
    try:
        claims = jwt.decode(
            token,
            key=key,
            algorithms=ALGORITHMS,
            issuer=settings.CLERK_ISSUER or None,
            audience=settings.CLERK_AUDIENCE or None,
            leeway=settings.CLERK_JWT_LEEWAY_SECONDS,
            options=options,
        )
    except jwt.ExpiredSignatureError:
        raise InvalidSessionToken("The session token has expired.") from None
    except jwt.ImmatureSignatureError:
        raise InvalidSessionToken("The session token is not valid yet.") from None
    except jwt.InvalidIssuerError:
        raise InvalidSessionToken("The session token was issued by someone else.") from None
    except jwt.InvalidAudienceError:
        raise InvalidSessionToken("The session token is for another audience.") from None
    except jwt.InvalidSignatureError:
        raise InvalidSessionToken("The session token's signature is not valid.") from None
    except jwt.MissingRequiredClaimError as exc:
        raise InvalidSessionToken(f"The session token has no {exc.claim!r} claim.") from None
    except jwt.InvalidTokenError:
        raise InvalidSessionToken("The session token is not valid.") from None

    parties = settings.CLERK_AUTHORIZED_PARTIES
    if parties and claims.get("azp") not in parties:
        # Clerk puts the origin that requested the token in `azp`; a token minted for another
        # site of the same instance must not work here.
        raise InvalidSessionToken("The session token was issued to another origin.")
    subject = claims["sub"]
    if not isinstance(subject, str) or not SUBJECT.fullmatch(subject):
        raise InvalidSessionToken("The session token's subject is not a user id.")
    return claims


def _verification_key(token: str):
    if settings.CLERK_JWT_KEY:
        return _pem_key(settings.CLERK_JWT_KEY)
    try:
        kid = jwt.get_unverified_header(token).get("kid")
    except jwt.InvalidTokenError:
        raise InvalidSessionToken("The session token is not a JWT.") from None
    if not kid or not isinstance(kid, str):
        raise InvalidSessionToken("The session token names no signing key (kid).")
    client = _jwks_client(
        settings.CLERK_JWKS_URL,
        settings.CLERK_JWKS_CACHE_SECONDS,
        settings.CLERK_JWKS_REFRESH_COOLDOWN_SECONDS,
    )
    try:
        return client.get_signing_key(kid).key
    except jwt.PyJWKClientConnectionError as exc:
        raise KeysUnavailable(f"Could not fetch the JWKS: {exc}") from exc
    except jwt.PyJWKClientError:
        raise InvalidSessionToken("The session token's signing key is unknown.") from None


@lru_cache(maxsize=4)
def _pem_key(pem: str):
    # Parsed once per process, not on every request.
    return serialization.load_pem_public_key(pem.encode())


@lru_cache(maxsize=4)
def _jwks_client(url: str, lifespan: float, cooldown: float) -> jwt.PyJWKClient:
    # One client (and so one cached key set) per process and configuration. The per-kid key
    # cache stays off: it never expires, so a key Clerk withdrew would stay trusted.
    return jwt.PyJWKClient(
        url,
        cache_jwk_set=True,
        lifespan=lifespan,
        cooldown_duration=cooldown,
        timeout=JWKS_TIMEOUT_SECONDS,
    )
