from django.contrib import admin

from clips.models import Clip
from core.admin import ReadOnlyModelAdmin, admin_link, duration_text


@admin.register(Clip)
class ClipAdmin(ReadOnlyModelAdmin):
    list_display = ("__str__", "video_column", "start", "end", "length", "virality_score")
    list_select_related = ("video",)
    search_fields = ("title", "video__youtube_id")
    search_help_text = "The clip's title or the video's YouTube id."
    ordering = ("-created_at",)  # indexed; the model's by-score order would sort every clip
    fields = (
        "id",
        "video_column",
        "title",
        "start",
        "end",
        "length",
        "virality_score",
        "related_topics",
        "summary",
        "transcript",
        "created_at",
    )
    readonly_fields = fields

    @admin.display(description="video", ordering="video__youtube_id")
    def video_column(self, obj):
        return admin_link(obj.video, obj.video.youtube_id)

    @admin.display(description="length")
    def length(self, obj):
        return duration_text(obj.end - obj.start)
