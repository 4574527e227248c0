"""Reading settings from the environment: django-environ, except that a bad value stops the
service with one line naming the variable and the form it expects, e.g.

    DATABASE_URL: expected a URL like postgres://user@host/db or sqlite:///path, got 'nonsense'

instead of a `KeyError: 'ENGINE'` traceback from deep inside the settings. `manage.py`,
`wsgi.py` and `asgi.py` print a `ConfigurationError` as that one line and exit
(`core.configuration.exit_on_configuration_error`).
"""

from __future__ import annotations

import re
import urllib.parse
from collections.abc import Callable
from pathlib import Path
from urllib.parse import urlsplit

import environ
from django.core.exceptions import ImproperlyConfigured

from core.configuration import ConfigurationError

# Local development keeps its settings here (`make run` creates it from .env.example).
DOT_ENV = Path(__file__).resolve().parent.parent / ".env"
DATABASE_FORM = "a URL like postgres://user@host/db or sqlite:///path"
CACHE_FORM = "a URL like redis://host:6379/0 or locmemcache://name"
BOOL_FORM = "1 or 0 (also true/false, yes/no, on/off)"
ORIGIN_FORM = "an origin like https://steps.example.com (http or https, no path)"
PATH_FORM = "a path like /api/inngest"
RATE_FORM = "a rate like 30/hour (a number, then /second, /minute, /hour or /day)"
URL_FORM = "a URL like http://host:port/path (a numeric port, or none)"
# What an inline comment (`DATABASE_URL=sqlite:///db.sqlite3  # mine`) or a stray space leaves
# at either end of a value: neither .env nor a shell strips it, so it would be part of the value.
# Spaces and tabs only: a PEM key read from a file may end in its newline.
_STRAY_TEXT = re.compile(r"\A[ \t]+|[ \t]+(#.*)?\Z", re.DOTALL)
_TRUE = {"1", "true", "yes", "y", "on", "ok"}
_FALSE = {"0", "false", "no", "n", "off"}


class Env(environ.Env):
    """`environ.Env` whose typed readers reject a malformed value with a ConfigurationError, and
    whose every reader refuses a value with spaces or a `# comment` around it."""

    def get_value(self, var, cast=None, default=environ.Env.NOTSET, parse_default=False):
        _refuse_stray_text(var, self.ENVIRON.get(var))
        return super().get_value(var, cast=cast, default=default, parse_default=parse_default)

    def int(self, var, default=environ.Env.NOTSET, *, between: tuple[int, int] | None = None):
        """An integer; with `between=(low, high)`, one in that range (ends included)."""
        if between is None:
            return self._parsed(var, default, "an integer, e.g. 20", int)
        low, high = between

        def bounded(raw: str) -> int:
            value = int(raw)
            if not low <= value <= high:
                raise ValueError(raw)
            return value

        return self._parsed(var, default, f"an integer from {low} to {high}", bounded)

    def float(self, var, default=environ.Env.NOTSET):
        return self._parsed(var, default, "a number, e.g. 1.5", float)

    def bool(self, var, default=environ.Env.NOTSET):
        # django-environ reads any unknown word ("ture") as False: a typo would silently turn a
        # setting off.
        return self._parsed(var, default, BOOL_FORM, _parse_bool)

    def db_url(self, var=environ.Env.DEFAULT_DATABASE_ENV, default=environ.Env.NOTSET, engine=None):
        url = self.str(var, default=default)
        shown = _without_password(url)
        scheme = url.split("://", 1)[0] if "://" in url else ""
        if scheme not in self.DB_SCHEMES:
            raise ConfigurationError(f"{var}: expected {DATABASE_FORM}, got {shown!r}")
        try:
            config = self.db_url_config(url, engine=engine)
        except (ValueError, ImproperlyConfigured):
            config = {}
        if not config.get("NAME"):
            raise ConfigurationError(
                f"{var}: expected {DATABASE_FORM} (with a database name), got {shown!r}"
            )
        return config

    db = db_url

    def cache_url(
        self, var=environ.Env.DEFAULT_CACHE_ENV, default=environ.Env.NOTSET, backend=None
    ):
        url = self.str(var, default=default)
        scheme = url.split("://", 1)[0] if "://" in url else ""
        if scheme not in self.CACHE_SCHEMES:
            raise ConfigurationError(
                f"{var}: expected {CACHE_FORM}, got {_without_password(url)!r}"
            )
        return self.cache_url_config(url, backend=backend)

    cache = cache_url

    def origin(self, var, default: str = "") -> str:
        """A URL's scheme, host and port only (or the default, ""): where a public URL starts."""
        raw = self.str(var, default=default).strip()
        if not raw:
            return default
        try:
            parts = urllib.parse.urlsplit(raw)
            parts.port  # noqa: B018 - raises ValueError for a malformed port
        except ValueError:
            parts = None
        if (
            parts is None
            or parts.scheme not in ("http", "https")
            or not parts.hostname
            or parts.username is not None
            or parts.path not in ("", "/")
            or parts.query
            or parts.fragment
        ):
            raise ConfigurationError(f"{var}: expected {ORIGIN_FORM}, got {raw!r}")
        return f"{parts.scheme}://{parts.netloc}"

    def url_path(self, var, default: str = "") -> str:
        """An absolute URL path without query or fragment (or the default, "")."""
        raw = self.str(var, default=default).strip()
        if raw and not re.fullmatch(r"/(?!/)[^\s?#]*", raw):
            raise ConfigurationError(f"{var}: expected {PATH_FORM}, got {raw!r}")
        return raw

    def choice(self, var, *, choices: tuple[str, ...], default: str) -> str:
        value = self.str(var, default=default)
        if value not in choices:
            expected = " or ".join(repr(choice) for choice in choices)
            raise ConfigurationError(f"{var}: expected {expected}, got {value!r}")
        return value

    def rate(self, var: str, *, default: str) -> str:
        """A DRF throttle rate, which DRF would otherwise fail to parse at every request."""
        value = self.str(var, default=default) or default
        if not re.fullmatch(r"\d+/(second|minute|hour|day)", value):
            raise ConfigurationError(f"{var}: expected {RATE_FORM}, got {value!r}")
        return value

    def http_url(self, var: str, *, default: str = "") -> str:
        """An http(s) URL with a host and, if any, a numeric port; empty stays empty."""
        value = self.str(var, default=default)
        if value and not _is_http_url(value):
            raise ConfigurationError(f"{var}: expected {URL_FORM}, got {value!r}")
        return value

    def _parsed(self, var: str, default, form: str, parse: Callable[[str], object]):
        raw = self.ENVIRON.get(var)
        _refuse_stray_text(var, raw)
        # Empty, as a copied .env.example leaves many, means the default.
        if raw is None or not raw.strip():
            if default is self.NOTSET:
                raise ConfigurationError(f"{var}: not set; expected {form}")
            return default
        try:
            return parse(raw.strip())
        except ValueError:
            raise ConfigurationError(f"{var}: expected {form}, got {raw!r}") from None


def read_dot_env() -> None:
    """Reads `.env` into the environment unless DJANGO_READ_DOT_ENV=0. Variables already set in
    the environment win over the file's, so reading it again changes nothing."""
    if Env().bool("DJANGO_READ_DOT_ENV", default=True):
        environ.Env.read_env(DOT_ENV)


def _refuse_stray_text(var: str, raw: str | None) -> None:
    # Blank means the default. Only the stray text is shown: the value may be a secret.
    if raw is None or not raw.strip():
        return
    stray = _STRAY_TEXT.search(raw)
    if stray:
        where = "starts" if stray.start() == 0 else "ends"
        raise ConfigurationError(
            f"{var}: {where} with {stray.group()!r}; expected the value alone, without spaces "
            "around it (a comment goes on a line of its own)"
        )


def _is_http_url(value: str) -> bool:
    try:
        parts = urlsplit(value)
        parts.port  # noqa: B018 (a port that is not a number raises ValueError)
    except ValueError:
        return False
    return parts.scheme in ("http", "https") and bool(parts.hostname)


def _without_password(url: str) -> str:
    # An error message ends up in terminals and logs: never with the database's password.
    return re.sub(r"^([^:/]+://[^:/@]*):[^@]*@", r"\1:***@", url)


def _parse_bool(value: str) -> bool:
    lowered = value.lower()
    if lowered in _TRUE:
        return True
    if lowered in _FALSE:
        return False
    raise ValueError(value)
