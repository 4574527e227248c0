from django.apps import AppConfig


class OperationsConfig(AppConfig):
    """Above the apps: reruns, the admin's job pages and dashboard, the `resend_events` command."""

    default_auto_field = "django.db.models.BigAutoField"
    name = "operations"

    def ready(self):
        from core.lifecycle import status_changed
        from core.metrics import record_status_change

        # The job lifecycle's one signal feeds the status, cancellation and rerun counters.
        status_changed.connect(record_status_change, dispatch_uid="core.metrics")
