"""The bodies the web client sends, field for field as its pages build them. Shapes only:
the rules (URLs, prompts, ranges, languages, aspect ratios) are the services'. Field names
are the client's (camelCase)."""

from rest_framework import serializers

from api.fields import BoundedListField

MAX_SELECTED_CLIPS = 1000


class IdentifyInputSerializer(serializers.Serializer):
    youtubeUrl = serializers.CharField(trim_whitespace=True)
    prompt = serializers.CharField(
        required=False, allow_blank=True, allow_null=True, default="", trim_whitespace=False
    )


class ProcessInputSerializer(serializers.Serializer):
    videoId = serializers.CharField()
    s3Key = serializers.CharField()
    # [{start, end}] as the detail page sends them (the clips' strings); each item is checked
    # by exports.selection and the export service.
    # Bounded before any item is looked at (a 400,000-item list is refused at once); the export
    # service's own, smaller limit then names the problem in its words.
    selectedClips = BoundedListField(
        child=serializers.JSONField(), allow_empty=True, max_length=MAX_SELECTED_CLIPS
    )
    # null (or absent, or "") for none; otherwise a tag the export service accepts.
    targetLanguage = serializers.CharField(
        required=False, allow_null=True, allow_blank=True, default=None
    )
    aspectRatio = serializers.CharField()

    def validate_targetLanguage(self, value):
        return value or None  # the original's `targetLanguage || null`


class DownloadInputSerializer(serializers.Serializer):
    s3Key = serializers.CharField()
