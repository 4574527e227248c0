from django.apps import AppConfig


class OperationsConfig(AppConfig):
    """Above the apps: reruns, the admin's job pages and dashboard, the `resend_events` command."""

    default_auto_field = "django.db.models.BigAutoField"
    name = "operations"
