"""Korai's settings, one module per environment; DJANGO_SETTINGS_MODULE names the one a process
loads:

- `korai.settings.production`: the servers' (korai/wsgi.py and korai/asgi.py default to it, so
  gunicorn with deploy/gunicorn/api.py or steps.py). No devtools. Production runs management
  commands with it too: `DJANGO_SETTINGS_MODULE=korai.settings.production python manage.py
  migrate`.
- `korai.settings.development`: manage.py's default, so `make run` (scripts/run.sh). DEBUG on
  unless DJANGO_DEBUG=0, and devtools installed (`dev_executor`, `clips_sandbox`, `local_s3`).
- `tests.settings` (tests/settings.py): the test suite's, production's with devtools installed
  and test-only secrets.

All of them are base.py's settings, read from the environment (and `.env` unless
DJANGO_READ_DOT_ENV=0). Which requests a process serves is its role, KORAI_ROLE (roles.py), in
any of them. This package itself is no settings module.
"""

import os

from core.configuration import ConfigurationError

if os.environ.get("DJANGO_SETTINGS_MODULE") == __name__:
    raise ConfigurationError(
        "DJANGO_SETTINGS_MODULE: expected korai.settings.production (servers, and management "
        "commands in production) or korai.settings.development (local development), got "
        f"{__name__!r}"
    )
