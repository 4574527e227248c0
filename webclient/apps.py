from django.apps import AppConfig


class WebclientConfig(AppConfig):
    """The original Korai web client's API (`/api/clips/…`), adapted onto Korai's services."""

    default_auto_field = "django.db.models.BigAutoField"
    name = "webclient"
