"""`python manage.py resend_events`: deliver what the after-commit attempt missed.

Exit status 0 when everything selected was delivered (or there was nothing to do), 1 when some
event could not be delivered, so a cron job or an operator's script notices. With the development
executor (KORAI_DEV_EXECUTOR_RUNNING) nothing is sent: the events stay recorded for it to take,
and that is a success."""

import uuid
from datetime import timedelta

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.db.models import QuerySet

from exports.models import Export
from exports.services import EXPORT_JOB
from jobs.reruns import JobKind, RerunReport, jobs_rerun
from outbox import dispatch
from outbox.selectors import events_undelivered
from outbox.services import events_resend_undelivered
from videos.models import Video
from videos.services import VIDEO_JOB

# Rerun ids per query when counting their undelivered events (well below any backend's limit
# of query parameters).
ID_CHUNK = 500


def _uuid(value: str) -> uuid.UUID:
    try:
        return uuid.UUID(value)
    except ValueError:
        raise CommandError(f"{value!r} is not a video or export id (a UUID).") from None


def _positive(value: str) -> int:
    try:
        number = int(value)
    except ValueError:
        number = 0
    if number < 1:
        raise CommandError(f"{value!r} is not a positive whole number.")
    return number


class Command(BaseCommand):
    help = (
        "Deliver every Inngest event that was recorded but never delivered, oldest first. "
        "With --failed, --cancelled or --stuck, also run those jobs again (a new event, a new "
        "run). "
        "Safe to run any number of times, also concurrently."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--dry-run", action="store_true", help="Show what would be done; send nothing."
        )
        parser.add_argument(
            "--failed",
            action="store_true",
            help="Run failed videos and exports again: back to pending, with a new event.",
        )
        parser.add_argument(
            "--cancelled",
            action="store_true",
            help="Run cancelled videos and exports again: back to pending, with a new event.",
        )
        parser.add_argument(
            "--stuck",
            metavar="MINUTES",
            type=str,
            help="Run again videos and exports pending or processing with no progress for "
            "this many minutes (jobs whose event is still undelivered are resent instead).",
        )
        parser.add_argument("--video", metavar="ID", help="Only this video (and its exports).")
        parser.add_argument("--export", metavar="ID", help="Only this export.")
        parser.add_argument(
            "--limit", metavar="N", help="At most N events to resend (and N jobs to run again)."
        )

    def handle(self, *args, **options):
        dry_run = options["dry_run"]
        video_id = _uuid(options["video"]) if options["video"] else None
        export_id = _uuid(options["export"]) if options["export"] else None
        limit = _positive(options["limit"]) if options["limit"] else None
        stuck_for = timedelta(minutes=_positive(options["stuck"])) if options["stuck"] else None
        prefix = "[dry run] " if dry_run else ""

        candidates = _jobs_in_scope(video_id=video_id, export_id=export_id)
        in_scope = [queryset for _, queryset in candidates] if video_id or export_id else None
        reruns = None
        if options["failed"] or options["cancelled"] or stuck_for is not None:
            # Reruns first: their new events join the resend below if their own after-commit
            # delivery fails.
            reruns = jobs_rerun(
                candidates=candidates,
                failed=options["failed"],
                cancelled=options["cancelled"],
                stuck_for=stuck_for,
                limit=limit,
                dry_run=dry_run,
            )
            verb = "would run again" if dry_run else "ran again"
            for kind, ids in reruns.ran.items():
                for pk in ids:
                    self.stdout.write(f"{prefix}{kind} {pk}: {verb}")
            for reason in reruns.skipped:
                self.stdout.write(f"{prefix}skipped {reason}")
            self.stdout.write(
                f"{prefix}{len(reruns.of('video'))} video(s) and "
                f"{len(reruns.of('export'))} export(s) {verb}."
            )

        if dry_run:
            events = events_undelivered(jobs=in_scope)
            if limit is not None:
                events = events[:limit]
            count = 0
            for event in events.only("event_id", "attempts", "last_error").iterator(chunk_size=500):
                count += 1
                detail = f" (tried {event.attempts}x: {event.last_error})" if event.attempts else ""
                self.stdout.write(f"{prefix}would send {event.event_id}{detail}")
            self.stdout.write(f"{prefix}{count} undelivered event(s) would be sent.")
            return

        # The reruns' events went to this process's sender thread when they were committed
        # (OUTBOX_DELIVERY=background). While it posts them it holds their rows, which the
        # resend pass would skip as "being sent" (SKIP LOCKED on PostgreSQL) and so report
        # nothing about: let it finish first.
        rerun_count = reruns.total if reruns is not None else 0
        if rerun_count:
            dispatch.flush(timeout=dispatch.flush_timeout(rerun_count))
        report = events_resend_undelivered(limit=limit, jobs=in_scope)
        if settings.KORAI_DEV_EXECUTOR_RUNNING:
            self.stdout.write(
                f"{report.for_dev_executor} event(s) recorded: the development executor will "
                "take them (nothing is sent to Inngest)."
            )
            return
        still_undelivered = 0
        if rerun_count:
            # If the wait ran out, the thread may still be sending; whatever of the reruns'
            # events it has not delivered by now was not delivered by this run.
            dispatch.flush(timeout=dispatch.flush_timeout(rerun_count))
            still_undelivered = _undelivered_events_of(reruns)
        self.stdout.write(
            f"Delivered {report.delivered}, failed {report.failed}, "
            f"skipped {report.skipped} (already delivered or being sent by another run)."
        )
        if still_undelivered:
            self.stdout.write(
                f"{still_undelivered} of the {rerun_count} new event(s) of the jobs run again "
                "are still undelivered."
            )
        for error in report.errors:
            self.stderr.write(f"error: {error}")
        if not report.ok or still_undelivered:
            problems = []
            if report.failed:
                problems.append(f"{report.failed} event(s) could not be delivered")
            if still_undelivered:
                problems.append(
                    f"{still_undelivered} of the {rerun_count} new event(s) of the jobs run "
                    "again are still undelivered"
                )
            raise CommandError(
                "; ".join(problems) + "; they stay recorded, run resend_events again once "
                "Inngest is reachable.",
                returncode=1,
            )


def _jobs_in_scope(*, video_id, export_id) -> list[tuple[JobKind, QuerySet]]:
    """Each kind of job with the rows `--video`/`--export` leave in scope: a video's scope
    holds its exports too."""
    videos, exports = Video.objects.all(), Export.objects.all()
    if export_id is not None:
        videos, exports = videos.none(), exports.filter(pk=export_id)
    if video_id is not None:
        videos, exports = videos.filter(pk=video_id), exports.filter(video_id=video_id)
    return [(VIDEO_JOB, videos), (EXPORT_JOB, exports)]


def _undelivered_events_of(reruns: RerunReport) -> int:
    """Undelivered events of the jobs this run ran again (a video's own, not its exports')."""
    count = 0
    for kind in (VIDEO_JOB, EXPORT_JOB):
        ids = reruns.of(kind.name)
        for start in range(0, len(ids), ID_CHUNK):
            chunk = kind.model.objects.filter(pk__in=ids[start : start + ID_CHUNK])
            count += events_undelivered(jobs=[chunk]).count()
    return count
