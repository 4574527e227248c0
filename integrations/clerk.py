"""Verifying Clerk session tokens (JWTs), the web client's credentials.

A token is checked with PyJWT against the instance's public key: a PEM key from
`CLERK_JWT_KEY`, or the keys published at `CLERK_JWKS_URL`. It must be unexpired (within
`CLERK_JWT_LEEWAY_SECONDS` of clock skew), issued by `CLERK_ISSUER` when that is set, for one
of `CLERK_AUTHORIZED_PARTIES` (the `azp` claim, the origin that asked Clerk for it) when those
are set, for `CLERK_AUDIENCE` when that is set, and name its user in `sub` with an id shaped like
Clerk's (`user_2NNEqL2nrIRdJ194ndJqAHwEfxC`: letters, digits, `_` and `-`, at most 64).

The JWKS is fetched at most once per `CLERK_JWKS_REFRESH_COOLDOWN_SECONDS` per process, whether
the fetch worked or not, and one fetch at a time: a request never waits for another's. It is
fetched again when a token names a `kid` not in it (Clerk rotated its keys) or once it is
`CLERK_JWKS_CACHE_SECONDS` old; while that fails, or within the cooldown, the last set fetched
stays in use. So a stream of made-up `kid`s costs Clerk one fetch per cooldown, failing or not,
and a hanging Clerk (`CLERK_JWKS_TIMEOUT_SECONDS`) holds up one request, not everyone's."""

import logging
import math
import re
import threading
import time
from functools import lru_cache

import jwt
from cryptography.hazmat.primitives import serialization
from django.conf import settings

logger = logging.getLogger(__name__)

ALGORITHMS = ["RS256"]  # what Clerk signs session tokens with
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
    keys = _key_set(
        settings.CLERK_JWKS_URL,
        lifespan=settings.CLERK_JWKS_CACHE_SECONDS,
        cooldown=settings.CLERK_JWKS_REFRESH_COOLDOWN_SECONDS,
        timeout=settings.CLERK_JWKS_TIMEOUT_SECONDS,
    )
    return keys.signing_key(kid).key


@lru_cache(maxsize=4)
def _pem_key(pem: str):
    # Parsed once per process, not on every request.
    return serialization.load_pem_public_key(pem.encode())


class KeySet:
    """The signing keys published at a JWKS URL, fetched as the module's docstring says.

    PyJWKClient fetches and parses them, with its own cache off: its cooldown starts only after
    a fetch that worked, so while Clerk fails every unknown `kid` is a fetch, and it holds one
    lock across the fetch, so while Clerk hangs every request queues behind it."""

    def __init__(self, url: str, *, lifespan: float, cooldown: float, timeout: float) -> None:
        self._client = jwt.PyJWKClient(url, cache_jwk_set=False, timeout=timeout)
        self._lifespan = lifespan
        self._cooldown = cooldown
        self._fetching = threading.Lock()
        self._keys: dict[str, jwt.PyJWK] | None = None  # by kid, from the last fetch that worked
        self._fetched_at = -math.inf
        self._tried_at = -math.inf

    def signing_key(self, kid: str) -> jwt.PyJWK:
        keys = self._keys
        if keys is None or kid not in keys or time.monotonic() - self._fetched_at > self._lifespan:
            self._refresh()
            keys = self._keys
        if keys is None:
            raise KeysUnavailable("No JWKS has been fetched yet.")
        if kid not in keys:
            raise InvalidSessionToken("The session token's signing key is unknown.")
        return keys[kid]

    def _refresh(self) -> None:
        if not self._fetching.acquire(blocking=False):
            return  # another request is fetching: use the keys at hand rather than wait
        try:
            if time.monotonic() - self._tried_at < self._cooldown:
                return
            try:
                keys = self._client.get_signing_keys()
            except (jwt.PyJWTError, OSError, ValueError) as exc:  # unreachable, 5xx, not JSON
                logger.warning("Clerk: cannot fetch the JWKS at %s: %s", self._client.uri, exc)
            else:
                self._keys = {key.key_id: key for key in keys}
                self._fetched_at = time.monotonic()
            finally:
                # The cooldown starts when the fetch ends, whatever its outcome.
                self._tried_at = time.monotonic()
        finally:
            self._fetching.release()


@lru_cache(maxsize=4)
def _key_set(url: str, *, lifespan: float, cooldown: float, timeout: float) -> KeySet:
    # One key set per process and configuration.
    return KeySet(url, lifespan=lifespan, cooldown=cooldown, timeout=timeout)
