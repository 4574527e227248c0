"""Subtitle customization sent to the process-clips API: the seed's style, overridable."""

DEFAULT_SUBTITLE_CUSTOMIZATION: dict = {
    "enabled": True,
    "position": "middle",
    "font_size": 120,
    "font_family": "Anton",
    "font_color": "#FFFFFF",
    "outline_color": "#000000",
    "outline_width": 2.5,
    "background_color": None,
    "background_opacity": 0.0,
    "shadow_enabled": True,
    "shadow_color": "#808080",
    "shadow_offset": 3.0,
    "max_words_per_line": 3,
    "margin_horizontal": 60,
    "margin_vertical": 180,
    "fade_in_duration": 0,
    "fade_out_duration": 0,
    "karaoke_enabled": True,
    "karaoke_highlight_color": "#0DE050",
    "karaoke_popup_scale": 1.25,
}


def subtitle_customization(overrides: dict | None) -> dict:
    """The full customization for an export: the defaults with its (validated) overrides."""
    return {**DEFAULT_SUBTITLE_CUSTOMIZATION, **(overrides or {})}
