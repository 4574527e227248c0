import posixpath

from django.conf import settings
from django.db import models

from jobs import lifecycle
from jobs.models import TrackedJob


class VideoStatus(models.TextChoices):
    """The job lifecycle's states (jobs.lifecycle) that an identification can be in."""

    PENDING = lifecycle.PENDING
    PROCESSING = lifecycle.PROCESSING
    COMPLETED = lifecycle.COMPLETED
    FAILED = lifecycle.FAILED
    CANCELLED = lifecycle.CANCELLED


class Video(TrackedJob):
    Status = VideoStatus
    inngest_function = "identify-clips"

    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="videos"
    )
    youtube_url = models.URLField(max_length=200)
    youtube_id = models.CharField(max_length=11, db_index=True)
    prompt = models.TextField(blank=True)
    s3_key = models.CharField(max_length=255, unique=True)  # youtube-videos/{id}/yt
    s3_path = models.CharField(max_length=1024, blank=True)
    # Changed only through jobs.lifecycle.transition; the API calls it `processing_status`.
    status = models.CharField(
        max_length=16, choices=VideoStatus.choices, default=VideoStatus.PENDING
    )
    total_clips = models.PositiveIntegerField(default=0)
    # Rendered clips of all its exports, kept by exports.services when a clip is rendered: the
    # polling endpoint reads it instead of counting rows on every poll.
    exported_clip_count = models.PositiveIntegerField(default=0)
    duration_seconds = models.FloatField(null=True, blank=True)
    detected_language = models.CharField(max_length=16, blank=True)
    # The client's Idempotency-Key of the submission that created this video: a repeat of the
    # request finds this row instead of creating a second video, in any process.
    idempotency_key = models.CharField(max_length=255, blank=True, editable=False)

    class Meta:
        ordering = ["-created_at"]
        indexes = [
            models.Index(fields=["owner", "-created_at"], name="video_owner_created"),
            # The dashboard, --stuck and the status filter: status, then how long untouched.
            models.Index(fields=["status", "updated_at"], name="video_status_updated"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(status__in=VideoStatus.values), name="video_status_valid"
            ),
            models.CheckConstraint(
                condition=models.Q(duration_seconds__isnull=True)
                | models.Q(duration_seconds__gte=0),
                name="video_duration_not_negative",
            ),
            models.UniqueConstraint(
                fields=["owner", "idempotency_key"],
                condition=~models.Q(idempotency_key=""),
                name="video_owner_idempotency_key",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.youtube_id} ({self.status})"

    @staticmethod
    def s3_key_for(video_id) -> str:
        return f"youtube-videos/{video_id}/yt"

    @property
    def storage_prefix(self) -> str:
        """The folder of the source video and of the clips service's own outputs
        (`{dirname(s3_key)}/clip_{i}.mp4`)."""
        return f"{posixpath.dirname(self.s3_key)}/"


class IdentifyAnswer(models.Model):
    """An identification answer between the step that fetched it and the step that saves its
    clips. It lives here, not in Inngest's step state: with long transcripts an answer is
    megabytes, and Inngest sends every step's output back on each call of the function (and
    caps a step's output at 4 MB). Deleted when its clips are saved."""

    video = models.OneToOneField(
        "videos.Video", on_delete=models.CASCADE, primary_key=True, related_name="+"
    )
    inngest_run_id = models.CharField(max_length=64)
    # integrations.identify_answer.read_identify_answer's dict: the kept clips and the dropped ones.
    answer = models.JSONField()
    received_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"identify answer of video {self.video_id}"


class VideoDeletion(models.Model):
    """A deleted video's stored objects, until they are removed: written in the transaction
    that deletes the video (with its `video/deleted` event), finished by `delete-video-objects`.
    Pending (no `cleaned_at`) while storage still holds something of the video."""

    # The deleted video's id (the video row itself is gone).
    id = models.UUIDField(primary_key=True, editable=False)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )
    youtube_id = models.CharField(max_length=11)
    # The storage folders to empty: the video's and each of its exports'.
    prefixes = models.JSONField(default=list)
    deleted_at = models.DateTimeField(auto_now_add=True)
    cleaned_at = models.DateTimeField(null=True, blank=True)
    attempts = models.PositiveIntegerField(default=0)
    objects_deleted = models.PositiveIntegerField(default=0)
    last_error = models.TextField(blank=True)

    class Meta:
        ordering = ["-deleted_at"]
        indexes = [models.Index(fields=["-deleted_at"], name="video_deletion_deleted")]

    def __str__(self) -> str:
        return f"Deleted video {self.id} ({'cleaned' if self.cleaned_at else 'pending'})"

    @property
    def pending(self) -> bool:
        return self.cleaned_at is None
