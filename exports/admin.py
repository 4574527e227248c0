from django.contrib import admin
from django.urls import reverse
from django.utils.html import format_html

from core.admin import (
    OwnerFilter,
    ReadOnlyInline,
    ReadOnlyModelAdmin,
    admin_link,
    badge,
    excerpt,
    ranges_text,
)
from exports.models import Export, ExportedClip
from exports.selectors import exports_stuck
from exports.services import EXPORT_JOB, export_cancel
from integrations import storage
from jobs.admin import JobAdmin, StuckFilter, attempts_help, report_rerun
from outbox.admin import JobEventInline, deliver_in_batches, report_delivery
from outbox.selectors import events_undelivered


class ExportStuckFilter(StuckFilter):
    def stuck(self, older_than):
        return exports_stuck(older_than=older_than)


class OutcomeFilter(admin.SimpleListFilter):
    title = "outcome"
    parameter_name = "outcome"

    def lookups(self, request, model_admin):
        return (("rendered", "Rendered"), ("failed", "Failed"))

    def queryset(self, request, queryset):
        if self.value() == "rendered":
            return queryset.exclude(s3_key="")
        if self.value() == "failed":
            return queryset.filter(s3_key="")
        return queryset


def outcome_badge(clip: ExportedClip):
    return badge("rendered", "green") if clip.succeeded else badge("failed", "red")


def clip_link(clip: ExportedClip):
    """A presigned link to the rendered clip, as the API's `download_url` (signed locally: no
    request to the store). The admin shows it to staff only."""
    url = storage.presigned_url(clip.s3_key)
    if url is None:
        return "—"
    return format_html('<a href="{}" target="_blank" rel="noopener">play / download</a>', url)


class ExportedClipInline(ReadOnlyInline):
    model = ExportedClip
    fields = ("start", "end", "outcome", "s3_key", "file", "error")
    readonly_fields = fields
    ordering = ("start",)

    @admin.display(description="outcome")
    def outcome(self, obj):
        return outcome_badge(obj)

    @admin.display(description="file")
    def file(self, obj):
        return clip_link(obj)


def video_link(video):
    return admin_link(video, video.youtube_id)


@admin.register(Export)
class ExportAdmin(JobAdmin):
    job_kind = EXPORT_JOB
    list_display = (
        "short_id",
        "video_column",
        "owner",
        "status_badge",
        "output",
        "clip_count",
        "attempts_count",
        "age",
        "time_taken",
        "error_start",
    )
    list_display_links = ("short_id",)
    list_select_related = ("video", "owner")
    list_filter = ("status", ExportStuckFilter, "aspect_ratio", "created_at", OwnerFilter)
    search_fields = ("video__youtube_id", "owner__username", "owner__email")
    search_help_text = "The video's YouTube id, the owner's username or email, or the export's id."
    actions = ("rerun", "cancel", "resend_events")
    inlines = (ExportedClipInline, JobEventInline)
    fieldsets = (
        (
            None,
            {
                "fields": (
                    "id",
                    "video_column",
                    "owner",
                    "aspect_ratio",
                    "target_language",
                    "subtitles",
                    "subtitle_style",
                    "ranges",
                )
            },
        ),
        ("Job", {"fields": JobAdmin.job_fields, "description": attempts_help()}),
        ("Error", {"fields": ("error_full",)}),
        ("Timeline", {"fields": ("timeline_table",)}),
    )
    readonly_fields = tuple(field for _, options in fieldsets for field in options["fields"])

    @admin.display(description="export", ordering="created_at")
    def short_id(self, obj):
        # The whole UUID is 36 characters that cannot wrap; its start tells exports apart
        # (search takes the whole id).
        return format_html('<span title="{}">{}…</span>', obj.pk, str(obj.pk)[:8])

    @admin.display(description="video", ordering="video__youtube_id")
    def video_column(self, obj):
        return video_link(obj.video)

    @admin.display(description="output", ordering="aspect_ratio")
    def output(self, obj):
        # Aspect ratio and subtitle language in one narrow column, e.g. "9:16 → es-ES".
        if obj.target_language:
            return f"{obj.aspect_ratio} → {obj.target_language}"
        return obj.aspect_ratio

    @admin.display(description="selected ranges")
    def ranges(self, obj):
        return ranges_text(obj.selected_ranges or [])

    @admin.display(description="clips")
    def clip_count(self, obj):
        # The ranges are on the row itself: counting them costs no query.
        return len(obj.selected_ranges or [])

    def cancel_job(self, job) -> None:
        export_cancel(export=job)

    @admin.action(
        description="Run selected failed, partial, cancelled or stuck exports again",
        permissions=("rerun",),
    )
    def rerun(self, request, queryset):
        report = self.rerun_jobs(queryset.values("pk"))
        report_rerun(self, request, selected=queryset.count(), report=report)

    @admin.action(
        description="Resend undelivered events of selected exports", permissions=("rerun",)
    )
    def resend_events(self, request, queryset):
        events = events_undelivered(jobs=[queryset])
        report_delivery(self, request, deliver_in_batches(events))

    def has_delete_permission(self, request, obj=None):
        # Rendered clips are counted on their video (Video.exported_clip_count): they go only
        # with the video itself, never one by one.
        return False


@admin.register(ExportedClip)
class ExportedClipAdmin(ReadOnlyModelAdmin):
    list_display = (
        "__str__",
        "export_column",
        "video_column",
        "start",
        "end",
        "outcome",
        "aspect_ratio",
        "target_language",
        "error_start",
        "created_at",
    )
    list_select_related = ("export", "video")
    list_filter = (OutcomeFilter, "aspect_ratio")
    search_fields = ("video__youtube_id", "s3_key")
    search_help_text = "The video's YouTube id or the clip's S3 key."
    ordering = ("-created_at",)
    fields = (
        "id",
        "export_column",
        "video_column",
        "source_clip",
        "start",
        "end",
        "outcome",
        "s3_key",
        "file",
        "aspect_ratio",
        "target_language",
        "error",
        "created_at",
    )
    readonly_fields = fields

    @admin.display(description="file")
    def file(self, obj):
        return clip_link(obj)

    @admin.display(description="export")
    def export_column(self, obj):
        url = reverse("admin:exports_export_change", args=[obj.export_id])
        return format_html('<a href="{}">{}</a>', url, obj.export_id)

    @admin.display(description="video")
    def video_column(self, obj):
        return video_link(obj.video)

    @admin.display(description="outcome")
    def outcome(self, obj):
        return outcome_badge(obj)

    @admin.display(description="error")
    def error_start(self, obj):
        return excerpt(obj.error)

    def has_delete_permission(self, request, obj=None):
        # Rendered clips are counted on their video (Video.exported_clip_count): they go only
        # with the video itself, never one by one.
        return False
