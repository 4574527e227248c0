from django.db.models import QuerySet

from outbox.models import OutboxEvent


def events_undelivered(*, video_id=None, export_id=None) -> QuerySet[OutboxEvent]:
    """Undelivered events, oldest first (the partial index `outbox_undelivered` serves this).
    A video's events include those of its exports."""
    events = OutboxEvent.objects.filter(delivered_at__isnull=True)
    if video_id is not None:
        events = events.filter(video_id=video_id)
    if export_id is not None:
        events = events.filter(export_id=export_id)
    return events.order_by("created_at", "pk")
