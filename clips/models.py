import uuid

from django.db import models


class Clip(models.Model):
    """A moment of a video that the identification API judged worth sharing."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    video = models.ForeignKey("videos.Video", on_delete=models.CASCADE, related_name="clips")
    start = models.FloatField(help_text="Seconds from the start of the video.")
    end = models.FloatField(help_text="Seconds from the start of the video.")
    title = models.CharField(max_length=500, blank=True)
    summary = models.TextField(blank=True)
    # 0-10, one point per criterion the identify API's LLM judged met.
    virality_score = models.PositiveSmallIntegerField(default=0)
    related_topics = models.JSONField(default=list, blank=True)
    transcript = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-virality_score", "start"]
        indexes = [
            models.Index(fields=["video", "-virality_score"], name="clip_video_score"),
            models.Index(fields=["-created_at"], name="clip_created"),  # the admin's list
        ]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(start__gte=0) & models.Q(start__lt=models.F("end")),
                name="clip_range_valid",
            ),
            models.UniqueConstraint(fields=["video", "start", "end"], name="clip_unique_range"),
            models.CheckConstraint(
                condition=models.Q(virality_score__lte=10), name="clip_virality_score_0_10"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.title or 'Clip'} [{self.start:g}-{self.end:g}s]"
