"""Input and output shapes of the videos API: one serializer per direction and operation."""

from django.conf import settings
from django.urls import reverse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from clips.models import Clip
from integrations import storage
from videos.models import Video
from videos.youtube import MAX_URL_LENGTH


class VideoSubmitInputSerializer(serializers.Serializer):
    # Only the shape here: video_submit owns the rules (YouTube hosts, prompt length).
    youtube_url = serializers.CharField(
        trim_whitespace=True,
        help_text="A YouTube video URL: youtube.com/watch?v=, youtu.be/, /shorts/, /live/, "
        f"/embed/ on the www., m. and music. hosts; at most {MAX_URL_LENGTH} characters.",
    )
    prompt = serializers.CharField(
        required=False,
        allow_blank=True,
        default="",
        help_text="Optional instructions for the clip finder, at most "
        f"{settings.KORAI_PROMPT_MAX_LENGTH} characters.",
    )


class VideoListFilterSerializer(serializers.Serializer):
    processing_status = serializers.ChoiceField(choices=Video.Status.choices, required=False)


class ClipFilterSerializer(serializers.Serializer):
    min_score = serializers.FloatField(
        required=False, min_value=0, help_text="Only clips with at least this virality score."
    )


class ClipOutputSerializer(serializers.ModelSerializer):
    class Meta:
        model = Clip
        fields = [
            "id",
            "start",
            "end",
            "title",
            "summary",
            "virality_score",
            "related_topics",
            "transcript",
            "created_at",
        ]
        read_only_fields = fields


class VideoOutputSerializer(serializers.ModelSerializer):
    # The API's name for the job's status (the contract's; the model says `status`).
    processing_status = serializers.ChoiceField(
        source="status", choices=Video.Status.choices, read_only=True
    )
    error = serializers.SerializerMethodField()
    source_download_url = serializers.SerializerMethodField()
    status_url = serializers.SerializerMethodField()

    class Meta:
        model = Video
        fields = [
            "id",
            "youtube_url",
            "youtube_id",
            "prompt",
            "processing_status",
            "total_clips",
            "duration_seconds",
            "detected_language",
            "s3_key",
            "source_download_url",
            "error",
            "status_url",
            "created_at",
            "updated_at",
        ]
        read_only_fields = fields

    @extend_schema_field({"type": "string", "nullable": True, "description": "Why it failed."})
    def get_error(self, video: Video) -> str | None:
        return video.last_error or None

    @extend_schema_field(
        {
            "type": "string",
            "format": "uri",
            "nullable": True,
            "description": "A presigned link to the source video the clips service stored "
            "(at `s3_key`), valid for KORAI_DOWNLOAD_URL_EXPIRES_SECONDS; null until it is "
            "stored or when no object storage is configured.",
        }
    )
    def get_source_download_url(self, video: Video) -> str | None:
        # `s3_path` is set once the identify API answered that it stored the source there.
        return storage.presigned_url(video.s3_key) if video.s3_path else None

    @extend_schema_field(OpenApiTypes.URI)
    def get_status_url(self, video: Video) -> str:
        path = reverse("video-status", kwargs={"video_id": video.pk})
        request = self.context.get("request")
        return request.build_absolute_uri(path) if request else path


class VideoDetailOutputSerializer(VideoOutputSerializer):
    clips = ClipOutputSerializer(many=True, read_only=True)

    class Meta(VideoOutputSerializer.Meta):
        fields = [*VideoOutputSerializer.Meta.fields, "clips"]
        read_only_fields = fields


class VideoStatusOutputSerializer(serializers.Serializer):
    """Built from `videos.selectors.video_status_get`'s dict, not a model instance."""

    id = serializers.UUIDField()
    processing_status = serializers.ChoiceField(choices=Video.Status.choices)
    total_clips = serializers.IntegerField()
    exported_clips = serializers.IntegerField(help_text="Clips rendered by this video's exports.")
    error = serializers.CharField(source="last_error", allow_null=True)
    pending_reason = serializers.CharField(
        allow_null=True,
        help_text="Why a pending video has not started: its event has not reached the job engine "
        'yet ("waiting to be sent to the job engine; it will be retried automatically"). Null '
        "otherwise.",
    )
    attempts = serializers.IntegerField(help_text="Inngest runs of this video so far.")
    created_at = serializers.DateTimeField()
    updated_at = serializers.DateTimeField()
    started_at = serializers.DateTimeField(allow_null=True)
    finished_at = serializers.DateTimeField(allow_null=True)

    def to_representation(self, instance):
        data = super().to_representation(instance)
        data["error"] = data["error"] or None
        return data


def video_status_payload(row: dict) -> dict:
    """`VideoStatusOutputSerializer(row).data` without DRF's per-field machinery, which costs a
    fifth of a poll. DRF's JSON encoder writes the UUID and the datetimes exactly as the
    serializer's fields do; the serializer still documents the answer, and a test keeps the
    two identical."""
    payload = {name: row[name] for name in _STATUS_PAYLOAD_FIELDS}
    payload["error"] = row["last_error"] or None
    return payload


_STATUS_PAYLOAD_FIELDS = [
    name for name in VideoStatusOutputSerializer._declared_fields if name != "error"
]
