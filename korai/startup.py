"""What the production entry points (`korai.wsgi`, `korai.asgi`) do before serving.

Their settings default to korai.settings.production. Two more things differ from `manage.py`: a
`.env` file is never read here, so a leftover local development file (DEBUG, Inngest dev mode)
cannot leak into production; and the URLconf is loaded at once, so a bad Inngest configuration
stops the server at start-up instead of failing every request later."""

import os
from importlib import import_module

from core.configuration import exit_on_configuration_error


def production_application(get_application):
    """The application `get_application` builds (Django's WSGI or ASGI handler), loaded as
    production serves it; a configuration error stops the start with its one line."""
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "korai.settings.production")
    os.environ.setdefault("DJANGO_READ_DOT_ENV", "0")
    with exit_on_configuration_error():
        application = get_application()
        from django.conf import settings

        # Building /api/inngest checks the Inngest keys.
        import_module(settings.ROOT_URLCONF)
    return application
