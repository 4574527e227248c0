"""Production settings: what korai/wsgi.py and korai/asgi.py load unless DJANGO_SETTINGS_MODULE
says otherwise, so every server (`gunicorn korai.wsgi -c deploy/gunicorn/api.py`, or
`steps.py`; `uvicorn korai.asgi:application`).

base.py's settings as they are: DEBUG off unless DJANGO_DEBUG=1, DJANGO_SECRET_KEY required,
HTTPS-only cookies, HSTS and the redirect to HTTPS behind a proxy, JSON log lines. devtools (the
development stand-ins) is not installed: `manage.py dev_executor` is an unknown command here.

manage.py defaults to the development settings, so production names this module to run a
management command:

    DJANGO_SETTINGS_MODULE=korai.settings.production python manage.py migrate

or sets DJANGO_SETTINGS_MODULE=korai.settings.production in the service's environment, which
the servers follow as well.
"""

from core.configuration import ConfigurationError
from korai.settings.base import *  # noqa: F403
from korai.settings.base import KORAI_DEV_EXECUTOR_RUNNING

if KORAI_DEV_EXECUTOR_RUNNING:
    # The executor is not installed here; with the flag on, nothing would send events anywhere.
    raise ConfigurationError(
        "KORAI_DEV_EXECUTOR_RUNNING: the development executor runs only under "
        "korai.settings.development; unset it (or set 0) in production"
    )
