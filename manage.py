#!/usr/bin/env python
"""Django's command-line utility for administrative tasks.

Its settings default to korai.settings.development (DEBUG on, devtools installed), for local
development and `make run`. Production names its own:

    DJANGO_SETTINGS_MODULE=korai.settings.production python manage.py migrate
"""

import os
import sys


def main():
    """Run administrative tasks."""
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "korai.settings.development")
    try:
        from django.core.management import execute_from_command_line
    except ImportError as exc:
        raise ImportError(
            "Couldn't import Django. Are you sure it's installed and "
            "available on your PYTHONPATH environment variable? Did you "
            "forget to activate a virtual environment?"
        ) from exc
    from core.configuration import exit_on_configuration_error

    with exit_on_configuration_error():
        # Load the settings here: Django's command line swallows an ImproperlyConfigured (which
        # a ConfigurationError is) on its first look at them, and some commands then fail later
        # with an unrelated traceback (makemigrations: "Models aren't loaded yet").
        from django.conf import settings

        settings.INSTALLED_APPS  # noqa: B018
        execute_from_command_line(sys.argv)


if __name__ == "__main__":
    main()
