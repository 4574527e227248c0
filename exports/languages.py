"""Target languages of an export: the BCP-47 tags the processing API can voice and subtitle.

The real processing API (`py-server/` of the original Korai app) takes `target_language` as a
BCP-47 tag and looks it up in its own tables (AWS Polly voices, Sarvam for Indian languages);
a tag it does not know, such as a bare "es", silently falls back to an English voice. So only the
tags in `KORAI_TARGET_LANGUAGES` (by default the nine the original web client offers) are
accepted, matched case-insensitively and sent in their canonical spelling (`es-es` -> `es-ES`).
"""

from django.conf import settings
from django.core.exceptions import ValidationError


def allowed_target_languages() -> tuple[str, ...]:
    return tuple(settings.KORAI_TARGET_LANGUAGES)


def target_language_normalized(value: object) -> str | None:
    """The canonical tag for `value` (None means no translation); ValidationError listing the
    allowed tags for anything else."""
    if value is None:
        return None
    if isinstance(value, str):
        canonical = {tag.lower(): tag for tag in allowed_target_languages()}
        tag = canonical.get(value.lower())
        if tag is not None:
            return tag
    raise ValidationError(
        f"Must be one of {', '.join(allowed_target_languages())} (any letter case), or null.",
        code="invalid_target_language",
    )
