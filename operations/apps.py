from django.apps import AppConfig


class OperationsConfig(AppConfig):
    """Above the apps: what spans every kind of job (the admin's dashboard, /metrics, the
    health probes, the `resend_events` command)."""

    default_auto_field = "django.db.models.BigAutoField"
    name = "operations"

    def ready(self):
        from jobs.calls import pending_call_forget_on_end
        from jobs.lifecycle import status_changed
        from jobs.metrics import record_status_change

        # The job lifecycle's one signal feeds the status, cancellation and rerun counters,
        # and forgets the result URL of an ended job's call.
        status_changed.connect(record_status_change, dispatch_uid="jobs.metrics")
        status_changed.connect(pending_call_forget_on_end, dispatch_uid="jobs.calls")
