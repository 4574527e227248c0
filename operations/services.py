"""Running failed and stuck jobs again: what the `resend_events --rerun-*` options, the admin's
"run again" actions and the dashboard select."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import timedelta

from django.db.models import Q, QuerySet

from core import lifecycle
from core.errors import ApplicationError
from exports.models import Export
from exports.services import export_rerun
from operations.selectors import exports_stuck, videos_stuck
from outbox.models import OutboxEvent
from videos.models import Video
from videos.services import video_rerun


@dataclass
class RerunReport:
    videos: list[str] = field(default_factory=list)
    exports: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)  # "<kind> <id>: why"

    @property
    def total(self) -> int:
        return len(self.videos) + len(self.exports)


def jobs_rerun(
    *,
    failed: bool = False,
    cancelled: bool = False,
    stuck_for: timedelta | None = None,
    video_id=None,
    export_id=None,
    video_ids: Iterable | QuerySet | None = None,
    export_ids: Iterable | QuerySet | None = None,
    limit: int | None = None,
    dry_run: bool = False,
) -> RerunReport:
    """Run failed (and partial), cancelled and/or stuck videos and exports again (each back to
    `pending` with a new event, so a new Inngest run). A stuck job whose event is still
    undelivered is left to the resend: running it again as well would start it twice.

    `video_id` limits it to one video and its exports, `export_id` to one export (the
    command's `--video`/`--export`). `video_ids`/`export_ids` (ids or a `values("pk")`
    queryset, e.g. an admin selection) limit it to exactly those jobs: given only one of them,
    no job of the other kind is run again."""
    if limit is not None and limit < 1:
        raise ValueError("limit must be a positive number.")
    report = RerunReport()
    if not failed and not cancelled and stuck_for is None:
        return report

    # A job with an undelivered event of its own is waiting for the resend, not stuck.
    waiting = OutboxEvent.objects.filter(delivered_at__isnull=True)
    video_q = Q(pk__in=[])
    export_q = Q(pk__in=[])
    if failed:
        video_q |= Q(status=lifecycle.FAILED)
        # A partial export failed for some clips; running it again renders only those.
        export_q |= Q(status__in=[lifecycle.FAILED, lifecycle.PARTIAL])
    if cancelled:
        video_q |= Q(status=lifecycle.CANCELLED)
        export_q |= Q(status=lifecycle.CANCELLED)
    if stuck_for is not None:
        video_q |= Q(pk__in=videos_stuck(older_than=stuck_for).values("pk")) & ~Q(
            pk__in=waiting.filter(export__isnull=True).values("video_id")
        )
        export_q |= Q(pk__in=exports_stuck(older_than=stuck_for).values("pk")) & ~Q(
            pk__in=waiting.filter(export__isnull=False).values("export_id")
        )
    videos = Video.objects.filter(video_q)
    exports = Export.objects.filter(export_q)
    if export_id is not None:
        videos = Video.objects.none()
        exports = exports.filter(pk=export_id)
    if video_id is not None:
        videos = videos.filter(pk=video_id)
        exports = exports.filter(video_id=video_id)
    if video_ids is not None or export_ids is not None:
        videos = videos.filter(pk__in=video_ids) if video_ids is not None else videos.none()
        exports = exports.filter(pk__in=export_ids) if export_ids is not None else exports.none()

    for model, queryset, rerun, ids in (
        (Video, videos, lambda job: video_rerun(video=job), report.videos),
        (Export, exports, lambda job: export_rerun(export=job), report.exports),
    ):
        room = None if limit is None else limit - report.total
        if room is not None and room <= 0:
            break
        pks = list(queryset.order_by("updated_at", "pk").values_list("pk", flat=True).distinct())
        for pk in pks[:room]:
            if not dry_run:
                try:
                    rerun(model.objects.get(pk=pk))
                except ApplicationError as exc:
                    # It changed since it was selected (finished meanwhile): nothing to run.
                    report.skipped.append(f"{model._meta.model_name} {pk}: {exc.message}")
                    continue
            ids.append(str(pk))
    return report
