from django.apps import AppConfig


class DevtoolsConfig(AppConfig):
    """Development stand-ins, apart from product code: the clips sandbox (`clips_sandbox`)."""

    default_auto_field = "django.db.models.BigAutoField"
    name = "devtools"
