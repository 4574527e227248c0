"""The operators' dashboard inside the admin (`/admin/dashboard/`): what happened in the last
24 hours and 7 days, what is stuck, what failed and why, which events never reached Inngest, and
how many deleted videos still have objects in storage. Every number links to the changelist
filtered to exactly those rows.

Nine queries whatever the table sizes: one aggregate per job model (status counts for both
windows and the stuck count, served by the created_at and status/updated_at indexes), one
aggregate over the outbox's partial `outbox_undelivered` index, five short lists, and the count
of pending storage clean-ups."""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.contrib import admin
from django.db.models import Count, Min, Q
from django.template.response import TemplateResponse
from django.utils import timezone

from core.admin import changelist_url, error_details
from exports.models import Export
from exports.selectors import exports_stuck
from jobs import lifecycle
from jobs.admin import status_badge, stuck_after
from outbox.admin import delivery_badge
from outbox.models import OutboxEvent
from outbox.selectors import events_undelivered
from videos.models import Video, VideoDeletion
from videos.selectors import videos_stuck

LIST_LENGTH = 10
WINDOWS = (("24 hours", timedelta(hours=24)), ("7 days", timedelta(days=7)))


def dashboard(request):
    now = timezone.now()
    context = {
        **admin.site.each_context(request),
        "title": "Korai dashboard",
        "windows": [label for label, _ in WINDOWS],
        "stuck_minutes": settings.KORAI_STUCK_AFTER_MINUTES,
        "jobs": [
            _job_summary(
                model=Video,
                label="Videos",
                stuck=videos_stuck(older_than=stuck_after()),
                now=now,
            ),
            _job_summary(
                model=Export,
                label="Exports",
                stuck=exports_stuck(older_than=stuck_after()),
                now=now,
            ),
        ],
        "events": _undelivered_events(),
        "cleanups": {
            "pending": VideoDeletion.objects.filter(cleaned_at__isnull=True).count(),
            "url": changelist_url(VideoDeletion, cleanup="pending"),
        },
    }
    return TemplateResponse(request, "admin/korai/dashboard.html", context)


def _job_summary(*, model, label, stuck, now) -> dict:
    statuses = model.Status.values
    since = {name: now - length for name, length in WINDOWS}
    # One pass over the rows of the longest window plus the stuck ones (a BitmapOr of two
    # indexes on PostgreSQL), counting every (status, window) cell and the stuck jobs at once.
    is_stuck = Q(pk__in=stuck.values("pk"))
    counts = model.objects.filter(Q(created_at__gte=min(since.values())) | is_stuck).aggregate(
        stuck=Count("pk", filter=is_stuck),
        **{
            f"{status}_{window}": Count("pk", filter=Q(status=status, created_at__gte=moment))
            for status in statuses
            for window, moment in enumerate(since.values())
        },
    )
    rows = [
        {
            "status": status,
            "badge": status_badge(status),
            "cells": [
                {
                    "count": counts[f"{status}_{window}"],
                    "url": changelist_url(
                        model, status__exact=status, created_at__gte=moment.isoformat()
                    ),
                }
                for window, moment in enumerate(since.values())
            ],
        }
        for status in statuses
    ]
    # What ended badly and can be run again (lifecycle.RERUNNABLE less the cancelled ones,
    # which someone asked for).
    failures = list(
        model.objects.filter(status__in=[lifecycle.FAILED, lifecycle.PARTIAL])
        .select_related("owner")
        .order_by("-updated_at")[:LIST_LENGTH]
    )
    stuck_jobs = list(stuck.select_related("owner")[:LIST_LENGTH])
    return {
        "label": label,
        "rows": rows,
        "stuck_count": counts["stuck"],
        "stuck_url": changelist_url(model, stuck="yes"),
        "stuck": [_job_row(job) for job in stuck_jobs],
        "failures": [_job_row(job) for job in failures],
        "failures_url": changelist_url(model, status__exact=lifecycle.FAILED),
    }


def _job_row(job) -> dict:
    opts = job._meta
    return {
        "job": job,
        "badge": status_badge(job.status),
        "error": error_details(job.last_error, 100),
        "url": f"admin:{opts.app_label}_{opts.model_name}_change",
    }


def _undelivered_events() -> dict:
    undelivered = events_undelivered()
    summary = undelivered.aggregate(
        total=Count("pk"), failed=Count("pk", filter=Q(attempts__gt=0)), oldest_at=Min("created_at")
    )
    oldest = list(undelivered[:LIST_LENGTH])
    return {
        **summary,
        # No Inngest in this setup: the development executor takes the events from the outbox.
        "dev_executor": settings.KORAI_DEV_EXECUTOR_RUNNING,
        "url": changelist_url(OutboxEvent, delivery="undelivered"),
        "failed_url": changelist_url(OutboxEvent, delivery="failed"),
        "rows": [
            {
                "event": event,
                "badge": delivery_badge(event),
                "error": error_details(event.last_error, 100),
            }
            for event in oldest
        ],
    }
