"""Input and output shapes of the exports API: one serializer per direction and operation.
Shapes only (types, required fields, bounded sizes): the rules (aspect ratios, languages, subtitle
settings, ranges) are `exports.services.export_create`'s, which the web client's route calls too.
"""

from django.conf import settings
from django.urls import reverse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from api.fields import BoundedListField
from exports.languages import allowed_target_languages
from exports.models import AspectRatio, Export, ExportedClip, ExportStatus
from exports.subtitles import DEFAULT_SUBTITLE_CUSTOMIZATION, SUBTITLE_STYLE_RULES
from integrations import storage
from outbox.selectors import pending_reason


class ClipRangeSerializer(serializers.Serializer):
    start = serializers.FloatField(help_text="Seconds from the start of the video.")
    end = serializers.FloatField(help_text="Seconds from the start of the video.")


@extend_schema_field(
    {
        "type": "object",
        "description": "Overrides of the default subtitle customization; unknown keys are "
        "rejected. Defaults: "
        + ", ".join(f"{key}={value!r}" for key, value in DEFAULT_SUBTITLE_CUSTOMIZATION.items()),
        "properties": {
            key: {"nullable": True} if value is None else {"type": _type}
            for key, value in DEFAULT_SUBTITLE_CUSTOMIZATION.items()
            for _type in [
                "boolean"
                if isinstance(value, bool)
                else "integer"
                if getattr(SUBTITLE_STYLE_RULES.get(key), "integer", False)
                else "number"
                if isinstance(value, int | float)
                else "string"
            ]
        },
        "additionalProperties": False,
    }
)
class SubtitleStyleField(serializers.Field):
    """A JSON object of at most one entry per subtitle setting; its keys and values are checked
    by the service (`exports.subtitles.subtitle_style_errors`)."""

    def to_internal_value(self, data):
        if not isinstance(data, dict):
            raise serializers.ValidationError(
                {"non_field_errors": ["Must be an object of subtitle settings."]}
            )
        if len(data) > len(SUBTITLE_STYLE_RULES):
            # Refused as a whole: one message per unknown key would echo an attacker's body back.
            raise serializers.ValidationError(
                {"non_field_errors": [f"At most {len(SUBTITLE_STYLE_RULES)} subtitle settings."]}
            )
        return data

    def to_representation(self, value):
        return value


@extend_schema_field(serializers.ChoiceField(choices=AspectRatio.choices))
class AspectRatioField(serializers.CharField):
    """A string, documented with its choices; the service refuses any other."""


class ExportCreateInputSerializer(serializers.Serializer):
    clip_ids = BoundedListField(
        child=serializers.UUIDField(),
        required=False,
        max_length=settings.KORAI_EXPORT_MAX_CLIPS,
        help_text="Ids of the video's clips to render. Give this or `clips`.",
    )
    clips = BoundedListField(
        child=ClipRangeSerializer(),
        required=False,
        max_length=settings.KORAI_EXPORT_MAX_CLIPS,
        help_text="Custom ranges inside the video, at most "
        f"{settings.KORAI_EXPORT_MAX_CLIP_SECONDS:g} s each. Give this or `clip_ids`.",
    )
    aspect_ratio = AspectRatioField()
    target_language = serializers.CharField(
        required=False,
        allow_null=True,
        # Blank and padded values reach the service, whose message lists the allowed tags.
        allow_blank=True,
        trim_whitespace=False,
        default=None,
        help_text="BCP-47 tag of the language to translate and voice the clips in, one of "
        f"{', '.join(allowed_target_languages())} (any letter case), or null for none.",
    )
    subtitles = serializers.BooleanField(required=False, default=True)
    subtitle_style = SubtitleStyleField(required=False, default=dict)


class SelectedRangeSerializer(serializers.Serializer):
    start = serializers.FloatField()
    end = serializers.FloatField()
    clip_id = serializers.UUIDField(allow_null=True, help_text="Null for a custom range.")


class ExportedClipOutputSerializer(serializers.ModelSerializer):
    s3_key = serializers.SerializerMethodField()
    download_url = serializers.SerializerMethodField()
    error = serializers.SerializerMethodField()
    source_clip_id = serializers.UUIDField(allow_null=True, read_only=True)

    class Meta:
        model = ExportedClip
        fields = [
            "id",
            "start",
            "end",
            "s3_key",
            "download_url",
            "aspect_ratio",
            "target_language",
            "source_clip_id",
            "error",
            "created_at",
        ]
        read_only_fields = fields

    @extend_schema_field({"type": "string", "nullable": True, "description": "Null if failed."})
    def get_s3_key(self, clip: ExportedClip) -> str | None:
        return clip.s3_key or None

    @extend_schema_field(
        {
            "type": "string",
            "format": "uri",
            "nullable": True,
            "description": "A presigned link to the rendered clip, valid for "
            "KORAI_DOWNLOAD_URL_EXPIRES_SECONDS (1 h by default); null if it failed or no "
            "object storage is configured.",
        }
    )
    def get_download_url(self, clip: ExportedClip) -> str | None:
        # Only the owner ever gets this answer: exports are looked up per user.
        return storage.presigned_url(clip.s3_key)

    @extend_schema_field({"type": "string", "nullable": True, "description": "Why it failed."})
    def get_error(self, clip: ExportedClip) -> str | None:
        return clip.error or None


class ExportOutputSerializer(serializers.ModelSerializer):
    video_id = serializers.UUIDField(read_only=True)
    status = serializers.ChoiceField(choices=ExportStatus.choices, read_only=True)
    clips = SelectedRangeSerializer(source="selected_ranges", many=True, read_only=True)
    subtitle_style = SubtitleStyleField(read_only=True)
    exported_clips = ExportedClipOutputSerializer(
        source="exported_clips_in_order", many=True, read_only=True
    )
    error = serializers.SerializerMethodField()
    pending_reason = serializers.SerializerMethodField()
    url = serializers.SerializerMethodField()

    class Meta:
        model = Export
        fields = [
            "id",
            "video_id",
            "status",
            "aspect_ratio",
            "target_language",
            "subtitles",
            "subtitle_style",
            "clips",
            "exported_clips",
            "error",
            "pending_reason",
            "url",
            "created_at",
            "updated_at",
            "finished_at",
        ]
        read_only_fields = fields

    @extend_schema_field({"type": "string", "nullable": True})
    def get_error(self, export: Export) -> str | None:
        return export.last_error or None

    @extend_schema_field(
        {
            "type": "string",
            "nullable": True,
            "description": "Why a pending export has not started: its event has not reached "
            'Inngest ("event not delivered: <reason>. To deliver it, …"). Null otherwise, and '
            "in the answer that creates the export (poll its `url`).",
        }
    )
    def get_pending_reason(self, export: Export) -> str | None:
        if export.status != ExportStatus.PENDING:
            return None
        # Annotated by the exports selectors; a freshly created export has none yet.
        return pending_reason(getattr(export, "undelivered_error", None))

    @extend_schema_field(OpenApiTypes.URI)
    def get_url(self, export: Export) -> str:
        path = reverse("export-detail", kwargs={"export_id": export.pk})
        request = self.context.get("request")
        return request.build_absolute_uri(path) if request else path
