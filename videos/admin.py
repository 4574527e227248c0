from django.contrib import admin

from clips.models import Clip
from core.admin import (
    OwnerFilter,
    ReadOnlyInline,
    ReadOnlyModelAdmin,
    badge,
    duration_text,
    excerpt,
)
from jobs.admin import JobAdmin, StuckFilter, attempts_help, report_rerun, status_badge
from outbox.admin import JobEventInline, deliver_in_batches, report_delivery
from outbox.selectors import events_undelivered
from videos.deletion import video_cleanup_retry, video_delete
from videos.models import Video, VideoDeletion
from videos.selectors import videos_stuck
from videos.services import VIDEO_JOB, video_cancel


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
    # Through the reverse relation: the exports app sits above this one.
    model = Video._meta.get_field("exports").related_model
    fk_name = "video"
    fields = ("created_at", "status_badge", "aspect_ratio", "target_language", "ranges", "error")
    readonly_fields = fields
    ordering = ("-created_at",)

    @admin.display(description="status")
    def status_badge(self, obj):
        return status_badge(obj.status)

    @admin.display(description="clips")
    def ranges(self, obj):
        return len(obj.selected_ranges or [])

    @admin.display(description="last error")
    def error(self, obj):
        return excerpt(obj.last_error)


@admin.register(Video)
class VideoAdmin(JobAdmin):
    job_kind = VIDEO_JOB
    # The URL is youtube.com/watch?v=<youtube id>: the id says it in a column that fits.
    list_display = (
        "youtube_id",
        "owner",
        "status_badge",
        "total_clips",
        "duration",
        "attempts_count",
        "age",
        "time_taken",
        "error_start",
    )
    list_select_related = ("owner",)
    list_filter = ("status", VideoStuckFilter, "created_at", OwnerFilter)
    search_fields = ("youtube_id", "youtube_url", "owner__username", "owner__email")
    search_help_text = "YouTube id or URL, the owner's username or email, or the video's id."
    actions = ("rerun", "cancel", "resend_events")
    inlines = (ClipInline, ExportInline, JobEventInline)
    fieldsets = (
        (None, {"fields": ("id", "owner", "youtube_url", "youtube_id", "prompt")}),
        ("Job", {"fields": JobAdmin.job_fields, "description": attempts_help()}),
        ("Error", {"fields": ("error_full",)}),
        ("Timeline", {"fields": ("timeline_table",)}),
        (
            "Result",
            {
                "fields": (
                    "total_clips",
                    "duration",
                    "detected_language",
                    "s3_key",
                    "s3_path",
                )
            },
        ),
    )
    readonly_fields = tuple(field for _, options in fieldsets for field in options["fields"])

    @admin.display(description="duration", ordering="duration_seconds")
    def duration(self, obj):
        return duration_text(obj.duration_seconds)

    @admin.action(
        description="Run selected failed, cancelled or stuck videos again", permissions=("rerun",)
    )
    def rerun(self, request, queryset):
        report = self.rerun_jobs(queryset.values("pk"))
        report_rerun(self, request, selected=queryset.count(), report=report)

    @admin.action(
        description="Resend undelivered events of selected videos (and their exports)",
        permissions=("rerun",),
    )
    def resend_events(self, request, queryset):
        exports = queryset.model.exports.rel.related_model.objects.filter(video__in=queryset)
        events = events_undelivered(jobs=[queryset, exports])
        report_delivery(self, request, deliver_in_batches(events))

    def cancel_job(self, job) -> None:
        video_cancel(video=job)

    # Deleting from the admin is the API's delete: the stored objects are cleaned up too.
    def delete_model(self, request, obj):
        video_delete(video=obj)

    def delete_queryset(self, request, queryset):
        for video in queryset:
            video_delete(video=video)


class CleanupStateFilter(admin.SimpleListFilter):
    title = "clean-up"
    parameter_name = "cleanup"

    def lookups(self, request, model_admin):
        return (("pending", "Pending"), ("cleaned", "Cleaned"))

    def queryset(self, request, queryset):
        if self.value() == "pending":
            return queryset.filter(cleaned_at__isnull=True)
        if self.value() == "cleaned":
            return queryset.filter(cleaned_at__isnull=False)
        return queryset


@admin.register(VideoDeletion)
class VideoDeletionAdmin(ReadOnlyModelAdmin):
    """Deleted videos whose stored objects are (or were) being removed: pending ones are what
    storage still holds, with the last error when it was down."""

    list_display = (
        "id",
        "youtube_id",
        "owner",
        "deleted_at",
        "state",
        "attempts",
        "objects_deleted",
        "error_start",
    )
    list_select_related = ("owner",)
    list_filter = (CleanupStateFilter, "deleted_at")
    search_fields = ("youtube_id", "owner__username")
    readonly_fields = (
        "id",
        "owner",
        "youtube_id",
        "prefixes",
        "deleted_at",
        "cleaned_at",
        "attempts",
        "objects_deleted",
        "last_error",
    )
    actions = ("clean_up_again",)

    def has_delete_permission(self, request, obj=None):
        return False  # the record is the only trace of objects still stored

    @admin.display(description="clean-up", ordering="cleaned_at")
    def state(self, obj):
        return badge("cleaned", "green") if obj.cleaned_at else badge("pending", "amber")

    @admin.display(description="last error")
    def error_start(self, obj):
        return excerpt(obj.last_error)

    @admin.action(description="Delete the stored objects again", permissions=("rerun",))
    def clean_up_again(self, request, queryset):
        pending = list(queryset.filter(cleaned_at__isnull=True))
        for deletion in pending:
            video_cleanup_retry(deletion=deletion)
        self.message_user(request, f"Clean-up started again for {len(pending)} deleted videos.")
