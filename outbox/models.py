import uuid

from django.db import models


class OutboxEvent(models.Model):
    """An Inngest event, written in the same transaction as the data it refers to and delivered
    after commit; `resend_events` delivers whatever a crash or an Inngest outage left behind.

    `event_id` is the Inngest event id: fixed when the row is written, so every resend of this
    row carries the same id and Inngest drops the duplicates (within 24 hours)."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    event_id = models.CharField(max_length=200, unique=True)
    name = models.CharField(max_length=200)
    data = models.JSONField()
    video = models.ForeignKey(
        "videos.Video", on_delete=models.CASCADE, null=True, blank=True, related_name="events"
    )
    export = models.ForeignKey(
        "exports.Export", on_delete=models.CASCADE, null=True, blank=True, related_name="events"
    )
    attempts = models.PositiveIntegerField(default=0)
    last_error = models.TextField(blank=True)
    last_attempt_at = models.DateTimeField(null=True, blank=True)
    delivered_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["created_at"]
        indexes = [
            models.Index(fields=["-created_at"], name="outbox_created"),  # the admin's list
            # resend_events walks undelivered rows oldest first; delivered rows are most rows.
            models.Index(
                fields=["created_at"],
                condition=models.Q(delivered_at__isnull=True),
                name="outbox_undelivered",
            ),
        ]

    def __str__(self) -> str:
        state = "delivered" if self.delivered_at else "undelivered"
        return f"{self.name} {self.event_id} ({state})"
