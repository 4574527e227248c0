"""Subtitle customization sent to the processing API: the default style (the original Next.js
app's), and the rules an export's overrides must follow."""

import re

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


HEX_COLOUR = re.compile(r"#(?:[0-9A-Fa-f]{3}|[0-9A-Fa-f]{6})")
# Passed to the renderer as a font name: letters, digits, spaces and dashes only.
FONT_FAMILY = re.compile(r"[A-Za-z0-9][A-Za-z0-9 _-]{0,63}")


def _boolean(value) -> str | None:
    return None if isinstance(value, bool) else "Must be true or false."


def _hex_colour(value, *, nullable: bool = False) -> str | None:
    if value is None and nullable:
        return None
    if isinstance(value, str) and HEX_COLOUR.fullmatch(value):
        return None
    return "Must be a hex colour like #FFFFFF" + (" or null." if nullable else ".")


def _number(low: float, high: float, *, integer: bool = False):
    """The processing API declares these fields `int` or `float` (pydantic): an integer field
    takes only a JSON integer (not 120.0, not true), a number field any finite number."""

    def check(value) -> str | None:
        kind = "a whole number" if integer else "a number"
        allowed = int if integer else int | float
        # bool is an int subclass; NaN and infinities fail the range check, and comparing
        # keeps a huge integer exact (converting it to float would overflow).
        if isinstance(value, bool) or not isinstance(value, allowed) or not low <= value <= high:
            return f"Must be {kind} from {low:g} to {high:g}."
        return None

    check.integer = integer
    return check


def _choice(*options: str):
    def check(value) -> str | None:
        return None if value in options else f"Must be one of: {', '.join(options)}."

    return check


def _font_family(value) -> str | None:
    if isinstance(value, str) and FONT_FAMILY.fullmatch(value):
        return None
    return "Must be a font name (letters, digits, spaces, dashes; at most 64 characters)."


# One rule per key of DEFAULT_SUBTITLE_CUSTOMIZATION; a key without a rule cannot be overridden.
SUBTITLE_STYLE_RULES = {
    "enabled": _boolean,
    "position": _choice("top", "middle", "bottom"),
    "font_size": _number(8, 400, integer=True),
    "font_family": _font_family,
    "font_color": _hex_colour,
    "outline_color": _hex_colour,
    "outline_width": _number(0, 20),
    "background_color": lambda value: _hex_colour(value, nullable=True),
    "background_opacity": _number(0, 1),
    "shadow_enabled": _boolean,
    "shadow_color": _hex_colour,
    "shadow_offset": _number(0, 50),
    "max_words_per_line": _number(1, 20, integer=True),
    "margin_horizontal": _number(0, 2000, integer=True),
    "margin_vertical": _number(0, 2000, integer=True),
    "fade_in_duration": _number(0, 10),
    "fade_out_duration": _number(0, 10),
    "karaoke_enabled": _boolean,
    "karaoke_highlight_color": _hex_colour,
    "karaoke_popup_scale": _number(0.5, 3),
}


def subtitle_style_errors(style: dict) -> dict[str, list[str]]:
    """Per-key problems of a `subtitle_style` override (empty when it is valid): every key must
    be one of the default customization's and hold a valid value."""
    errors = {}
    for key, value in style.items():
        rule = SUBTITLE_STYLE_RULES.get(key)
        if rule is None or key not in DEFAULT_SUBTITLE_CUSTOMIZATION:
            errors[key] = ["Unknown subtitle setting."]
        elif (problem := rule(value)) is not None:
            errors[key] = [problem]
    return errors
