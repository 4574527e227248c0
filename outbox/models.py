import uuid

from django.contrib.contenttypes.fields import GenericForeignKey
from django.contrib.contenttypes.models import ContentType
from django.db import models


class OutboxEvent(models.Model):
    """An Inngest event, written in the same transaction as the data it refers to and delivered
    after commit; `resend_events` delivers whatever a crash or an Inngest outage left behind.

    `event_id` is the Inngest event id: fixed when the row is written, so every resend of this
    row carries the same id and Inngest drops the duplicates (within 24 hours).

    `job` is the row the event is about (a video, an export: any model), through Django's
    content types, so the outbox knows no app; each job model declares a `GenericRelation` to
    its events, which also deletes them with it. An event about a row being deleted names no
    job, so it outlives it."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    event_id = models.CharField(max_length=200, unique=True)
    name = models.CharField(max_length=200)
    data = models.JSONField()
    job_type = models.ForeignKey(
        ContentType, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    job_id = models.UUIDField(null=True, blank=True)
    job = GenericForeignKey("job_type", "job_id")
    attempts = models.PositiveIntegerField(default=0)
    last_error = models.TextField(blank=True)
    last_attempt_at = models.DateTimeField(null=True, blank=True)
    delivered_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["created_at"]
        indexes = [
            models.Index(fields=["-created_at"], name="outbox_created"),  # the admin's list
            # A job's events: its page, its next event's number, why it waits.
            models.Index(fields=["job_type", "job_id", "created_at"], name="outbox_job"),
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
