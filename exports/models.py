import uuid

from django.conf import settings
from django.db import models

from jobs import lifecycle
from jobs.models import TrackedJob


class AspectRatio(models.TextChoices):
    VERTICAL = "9:16"
    SQUARE = "1:1"
    LANDSCAPE = "16:9"


class ExportStatus(models.TextChoices):
    """The job lifecycle's states (jobs.lifecycle): all of them."""

    PENDING = lifecycle.PENDING
    PROCESSING = lifecycle.PROCESSING
    COMPLETED = lifecycle.COMPLETED
    PARTIAL = lifecycle.PARTIAL  # some clips failed, each with its error
    FAILED = lifecycle.FAILED
    CANCELLED = lifecycle.CANCELLED


class Export(TrackedJob):
    """A request to render some of a video's clips as finished short videos."""

    Status = ExportStatus
    inngest_function = "process-clips"

    video = models.ForeignKey("videos.Video", on_delete=models.CASCADE, related_name="exports")
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="exports"
    )
    # What to render, in order: [{"start": s, "end": e, "clip_id": "<uuid>" | null}]. Custom
    # ranges have no clip, so the ranges themselves are the export's source of truth.
    selected_ranges = models.JSONField(default=list)
    aspect_ratio = models.CharField(max_length=5, choices=AspectRatio.choices)
    # A BCP-47 tag (exports/languages.py); null (not "") means "no translation", as in the API
    # and the event.
    target_language = models.CharField(max_length=35, null=True, blank=True)  # noqa: DJ001
    subtitles = models.BooleanField(default=True)
    # Overrides of the default subtitle customization; empty means the defaults.
    subtitle_style = models.JSONField(default=dict, blank=True)
    # Changed only through jobs.lifecycle.transition.
    status = models.CharField(
        max_length=16, choices=ExportStatus.choices, default=ExportStatus.PENDING
    )

    class Meta:
        ordering = ["-created_at"]
        indexes = [
            models.Index(fields=["owner", "-created_at"], name="export_owner_created"),
            models.Index(fields=["video", "-created_at"], name="export_video_created"),
            models.Index(fields=["status", "updated_at"], name="export_status_updated"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(status__in=ExportStatus.values), name="export_status_valid"
            ),
            models.CheckConstraint(
                condition=models.Q(aspect_ratio__in=AspectRatio.values),
                name="export_aspect_ratio_valid",
            ),
        ]

    def __str__(self) -> str:
        return f"Export {self.id} ({self.status})"

    @property
    def storage_prefix(self) -> str:
        """The folder that holds this export's rendered clips, and nothing else."""
        return f"exports/{self.id}/"

    def exported_clips_in_order(self) -> list["ExportedClip"]:
        """The exported clips in the order of `selected_ranges`, as they were asked for (the
        prefetched ones when the selector prefetched them)."""
        position = {(r["start"], r["end"]): n for n, r in enumerate(self.selected_ranges)}
        return sorted(
            self.exported_clips.all(),
            key=lambda clip: position.get((clip.start, clip.end), len(position)),
        )

    def clip_key(self, index: int) -> str:
        """Where the rendered clip of the `index`-th selected range is kept: a key of this
        export alone, stable across runs, so no other render can overwrite it."""
        return f"{self.storage_prefix}clip_{index}.mp4"


class ExportedClip(models.Model):
    """One rendered clip of an export, or the error that kept it from being rendered."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    export = models.ForeignKey(Export, on_delete=models.CASCADE, related_name="exported_clips")
    video = models.ForeignKey(
        "videos.Video", on_delete=models.CASCADE, related_name="exported_clips"
    )
    source_clip = models.ForeignKey(
        "clips.Clip", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    start = models.FloatField()
    end = models.FloatField()
    s3_key = models.CharField(max_length=1024, blank=True)  # empty when the clip failed
    aspect_ratio = models.CharField(max_length=5, choices=AspectRatio.choices)
    target_language = models.CharField(max_length=35, null=True, blank=True)  # noqa: DJ001
    error = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["start"]
        indexes = [models.Index(fields=["-created_at"], name="exported_clip_created")]  # admin
        constraints = [
            models.CheckConstraint(
                condition=models.Q(start__gte=0) & models.Q(start__lt=models.F("end")),
                name="exported_clip_range_valid",
            ),
            models.UniqueConstraint(
                fields=["export", "start", "end"], name="exported_clip_unique_range"
            ),
            # A row is either a rendered clip or a recorded failure, never neither.
            models.CheckConstraint(
                condition=~models.Q(s3_key="") | ~models.Q(error=""),
                name="exported_clip_has_key_or_error",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.start:g}-{self.end:g}s → {self.s3_key or 'failed'}"

    @property
    def succeeded(self) -> bool:
        return bool(self.s3_key)


class RenderLease(models.Model):
    """The one render allowed to use a video's output keys: the processing API writes every
    render of a video to the same `clip_{i}` keys, so from before its call until the last copy
    a render holds this row (`exports/leases.py`). It expires by itself, so a render whose
    process was killed frees the video."""

    video = models.OneToOneField(
        "videos.Video", on_delete=models.CASCADE, primary_key=True, related_name="render_lease"
    )
    # The holder. Not a foreign key: the call of a deleted export may still be writing.
    export_id = models.UUIDField()
    run_id = models.CharField(max_length=64)
    acquired_at = models.DateTimeField()
    expires_at = models.DateTimeField()
    # The processing call may still be writing the video's outputs: only the render itself
    # (or the expiry) frees the lease then, not a cancel.
    calling = models.BooleanField(default=False)
    # Once the call answered: what it rendered, `[[index in selected_ranges, its output's key
    # ("" if the answer lacks it)], …]`, for the copies (a re-delivered render step reads it
    # instead of calling again).
    outputs = models.JSONField(default=list, blank=True)

    def __str__(self) -> str:
        return f"video {self.video_id}: export {self.export_id} until {self.expires_at:%H:%M:%S}"

    def held_by(self, *, export_id: str, run_id: str) -> bool:
        return str(self.export_id) == str(export_id) and self.run_id == run_id
