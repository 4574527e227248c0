"""A configuration error is one line naming the variable and the form it expects, never a
traceback: raised by the settings (korai.env) and by checks at start-up (core.inngest), printed
by the entry points (manage.py, korai.wsgi, korai.asgi)."""

import sys
from collections.abc import Iterator
from contextlib import contextmanager

from django.core.exceptions import ImproperlyConfigured


class ConfigurationError(ImproperlyConfigured):
    """A setting's value is unusable; the message is one line naming the variable."""


@contextmanager
def exit_on_configuration_error() -> Iterator[None]:
    """Around an entry point: a ConfigurationError ends the process with its one line on stderr
    (status 2), not a traceback."""
    try:
        yield
    except ConfigurationError as exc:
        print(f"Configuration error: {exc}", file=sys.stderr)
        sys.exit(2)
