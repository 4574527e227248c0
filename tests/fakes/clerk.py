"""A stand-in for a Clerk instance: RSA signing keys, a JWKS endpoint on 127.0.0.1 (a real HTTP
server on a free port) and session tokens shaped like Clerk's.

    with FakeClerk() as clerk:
        settings.CLERK_JWKS_URL = clerk.jwks_url
        token = clerk.session_token("user_2abc")          # signed with the current key
        clerk.rotate()                                    # a new key, published in the JWKS
        clerk.fetches                                     # how often the JWKS was fetched
        clerk.answer = "error"                            # 500 from now on ("hang": no answer)

The `clerk` fixture configures Korai for it (JWKS URL, issuer, authorized party).
"""

from __future__ import annotations

import itertools
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

ISSUER = "https://clerk.korai.test"
APP_ORIGIN = "https://app.korai.test"  # where the web client runs: the token's `azp`


KEY_POOL_SIZE = 6
_key_pool: list = []
_key_counter = itertools.count()


def new_key():
    """An RSA key different from the last KEY_POOL_SIZE - 1 ones. Keys are slow to make, so
    a few are made once and handed out in turn."""
    n = next(_key_counter) % KEY_POOL_SIZE
    while len(_key_pool) <= n:
        _key_pool.append(rsa.generate_private_key(public_exponent=65537, key_size=2048))
    return _key_pool[n]


def public_pem(private_key) -> str:
    return (
        private_key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )


class FakeClerk:
    def __init__(self) -> None:
        self.keys: dict[str, object] = {}  # kid -> private key, all published
        self.current_kid = ""
        self.fetches = 0
        self._fetches_lock = threading.Lock()
        self.answer = "keys"  # or "error" (500) or "hang" (never answers until close())
        self._closing = threading.Event()
        self.rotate()
        handler = type("Handler", (_JwksHandler,), {"clerk": self})
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    @property
    def jwks_url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}/.well-known/jwks.json"

    def rotate(self, *, keep_old: bool = True) -> str:
        """A new signing key; the old ones stay published unless `keep_old` is false."""
        kid = f"ins_key_{len(self.keys) + 1}"
        if not keep_old:
            self.keys.clear()
        self.keys[kid] = new_key()
        self.current_kid = kid
        return kid

    def jwks(self) -> dict:
        keys = []
        for kid, private_key in self.keys.items():
            jwk = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(private_key.public_key()))
            keys.append({**jwk, "kid": kid, "use": "sig", "alg": "RS256"})
        return {"keys": keys}

    def session_token(
        self,
        subject: str,
        *,
        expires_in: float = 60,
        issued_ago: float = 0,
        issuer: str = ISSUER,
        azp: str | None = APP_ORIGIN,
        key=None,
        kid: str | None = None,
        **claims,
    ) -> str:
        """A session token as Clerk's frontend gets it (short-lived, `azp` = the app's origin)."""
        now = time.time() - issued_ago
        payload = {
            "sub": subject,
            "iss": issuer,
            "iat": int(now),
            "nbf": int(now) - 10,
            "exp": int(now + expires_in),
            "sid": f"sess_{subject}",
            **claims,
        }
        if azp is not None:
            payload["azp"] = azp
        kid = kid or self.current_kid
        key = key or self.keys.get(kid) or self.keys[self.current_kid]
        return jwt.encode(payload, key, algorithm="RS256", headers={"kid": kid})

    def close(self) -> None:
        self._closing.set()  # lets hanging requests go
        self._server.shutdown()
        self._server.server_close()

    def __enter__(self) -> FakeClerk:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


class _JwksHandler(BaseHTTPRequestHandler):
    clerk: FakeClerk

    def do_GET(self) -> None:
        if self.path != "/.well-known/jwks.json":
            self.send_error(404)
            return
        with self.clerk._fetches_lock:
            self.clerk.fetches += 1
        if self.clerk.answer == "hang":
            self.clerk._closing.wait()
            return
        if self.clerk.answer == "error":
            self.send_error(500)
            return
        body = json.dumps(self.clerk.jwks()).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format, *args) -> None:
        pass


@pytest.fixture
def clerk(settings):
    """A fake Clerk instance that Korai trusts (JWKS URL, issuer, the app's origin)."""
    from integrations import clerk as core_clerk

    with FakeClerk() as fake:
        settings.CLERK_JWKS_URL = fake.jwks_url
        settings.CLERK_JWT_KEY = ""
        settings.CLERK_ISSUER = ISSUER
        settings.CLERK_AUTHORIZED_PARTIES = [APP_ORIGIN]
        settings.CLERK_JWKS_REFRESH_COOLDOWN_SECONDS = 0
        core_clerk._key_set.cache_clear()  # a fresh key set for every test
        yield fake
        core_clerk._key_set.cache_clear()
