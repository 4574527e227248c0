"""Reads every kind of durable job shares."""

from datetime import timedelta

from django.db.models import QuerySet
from django.utils import timezone

from jobs import lifecycle


def jobs_stuck(jobs: QuerySet, *, older_than: timedelta) -> QuerySet:
    """Jobs pending or processing with no progress (no write) for longer than `older_than`:
    their event was lost or their run died. Oldest first."""
    cutoff = timezone.now() - older_than
    return jobs.filter(status__in=lifecycle.ACTIVE, updated_at__lt=cutoff).order_by(
        "updated_at", "pk"
    )
