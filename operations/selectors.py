"""Which jobs an operator should look at: the stuck ones (the dashboard, the admin's "stuck"
filter, the reruns)."""

from datetime import timedelta

from django.db.models import QuerySet
from django.utils import timezone

from core import lifecycle
from exports.models import Export
from videos.models import Video


def videos_stuck(*, older_than: timedelta) -> QuerySet[Video]:
    """Videos pending or processing with no progress (no write) for longer than `older_than`:
    their event was lost or their run died. Oldest first."""
    cutoff = timezone.now() - older_than
    return Video.objects.filter(
        status__in=lifecycle.ACTIVE,
        updated_at__lt=cutoff,
    ).order_by("updated_at", "pk")


def exports_stuck(*, older_than: timedelta) -> QuerySet[Export]:
    """Exports pending or processing with no progress (no write) for longer than `older_than`:
    their event was lost or their run died. Oldest first."""
    cutoff = timezone.now() - older_than
    return Export.objects.filter(
        status__in=lifecycle.ACTIVE,
        updated_at__lt=cutoff,
    ).order_by("updated_at", "pk")
