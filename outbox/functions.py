"""`resend-undelivered-events`: every few minutes, deliver what the after-commit attempt missed.

While Inngest is up this makes an outage heal by itself; while it is down the cron does not fire
at all, which is what `python manage.py resend_events` is for."""

from core.inngest import periodic_function
from outbox.services import events_resend_undelivered

# Rows per tick: keeps one run well inside an HTTP request even with a hanging event API
# (batches of 50, one timeout each); a larger backlog continues on the next tick.
RESEND_PER_RUN = 1000


def _resend() -> dict:
    report = events_resend_undelivered(limit=RESEND_PER_RUN)
    return {
        "delivered": report.delivered,
        "failed": report.failed,
        "skipped": report.skipped,
        "errors": report.errors,
    }


resend_undelivered_events = periodic_function(
    fn_id="resend-undelivered-events", name="Resend undelivered events", work=_resend
)
