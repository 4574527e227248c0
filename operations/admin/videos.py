from django.contrib import admin

from clips.models import Clip
from core.admin_common import (
    OwnerFilter,
    ReadOnlyInline,
    StuckFilter,
    TrackedJobAdmin,
    badge,
    duration_text,
    excerpt,
    report_delivery,
    report_rerun,
    stuck_after,
)
from exports.models import Export
from operations.selectors import videos_stuck
from operations.services import jobs_rerun
from outbox.admin import VideoEventInline, deliver_in_batches
from outbox.selectors import events_undelivered
from videos.models import Video


class VideoStuckFilter(StuckFilter):
    def stuck(self, older_than):
        return videos_stuck(older_than=older_than)


class ClipInline(ReadOnlyInline):
    model = Clip
    fields = ("title", "start", "end", "length", "virality_score", "related_topics")
    readonly_fields = fields
    ordering = ("-virality_score", "start")

    @admin.display(description="length")
    def length(self, obj):
        return duration_text(obj.end - obj.start)


class ExportInline(ReadOnlyInline):
    model = Export
    fk_name = "video"
    fields = ("created_at", "status_badge", "aspect_ratio", "target_language", "ranges", "error")
    readonly_fields = fields
    ordering = ("-created_at",)

    @admin.display(description="status")
    def status_badge(self, obj):
        return badge(obj.status)

    @admin.display(description="clips")
    def ranges(self, obj):
        return len(obj.selected_ranges or [])

    @admin.display(description="last error")
    def error(self, obj):
        return excerpt(obj.last_error)


@admin.register(Video)
class VideoAdmin(TrackedJobAdmin):
    status_field = "processing_status"
    list_display = (
        "youtube_id",
        "owner",
        "url",
        "status_badge",
        "total_clips",
        "duration",
        "attempts",
        "age",
        "time_taken",
        "error_start",
    )
    list_select_related = ("owner",)
    list_filter = ("processing_status", VideoStuckFilter, "created_at", OwnerFilter)
    search_fields = ("youtube_id", "youtube_url", "owner__username", "owner__email")
    search_help_text = "YouTube id or URL, the owner's username or email, or the video's id."
    actions = ("rerun", "resend_events")
    inlines = (ClipInline, ExportInline, VideoEventInline)
    fieldsets = (
        (None, {"fields": ("id", "owner", "youtube_url", "youtube_id", "prompt")}),
        ("Job", {"fields": TrackedJobAdmin.job_fields}),
        ("Error", {"fields": ("error_full",)}),
        ("Timeline", {"fields": ("timeline_table",)}),
        (
            "Result",
            {
                "fields": (
                    "total_clips",
                    "duration_seconds",
                    "detected_language",
                    "s3_key",
                    "s3_path",
                )
            },
        ),
    )
    readonly_fields = tuple(field for _, options in fieldsets for field in options["fields"])

    @admin.display(description="status", ordering="processing_status")
    def status_badge(self, obj):
        return badge(obj.processing_status)

    @admin.display(description="URL")
    def url(self, obj):
        return obj.youtube_url

    @admin.display(description="duration", ordering="duration_seconds")
    def duration(self, obj):
        return duration_text(obj.duration_seconds)

    @admin.action(description="Run selected failed or stuck videos again", permissions=("rerun",))
    def rerun(self, request, queryset):
        report = jobs_rerun(failed=True, stuck_for=stuck_after(), video_ids=queryset.values("pk"))
        report_rerun(self, request, selected=queryset.count(), report=report)

    @admin.action(
        description="Resend undelivered events of selected videos (and their exports)",
        permissions=("rerun",),
    )
    def resend_events(self, request, queryset):
        events = events_undelivered().filter(video__in=queryset.values("pk"))
        report_delivery(self, request, deliver_in_batches(events))
