from django.apps import AppConfig


class DevtoolsConfig(AppConfig):
    """Development stand-ins, apart from product code: the clips sandbox (`clips_sandbox`) and
    the development executor (`dev_executor`, also the tests' executor)."""

    default_auto_field = "django.db.models.BigAutoField"
    name = "devtools"
