"""YouTube video URLs: which ones Korai accepts, and the one canonical form it stores.

The clips API downloads whatever URL it is given, so anything that is not plainly a YouTube
video (a look-alike host, an IP address, credentials in the URL, another scheme, a channel or
playlist page) is refused here rather than passed on."""

import re
from urllib.parse import parse_qs, urlsplit

from django.core.exceptions import ValidationError

MAX_URL_LENGTH = 2048
VIDEO_ID = re.compile(r"[A-Za-z0-9_-]{11}")
WATCH_HOSTS = frozenset({"youtube.com", "www.youtube.com", "m.youtube.com", "music.youtube.com"})
SHORT_HOSTS = frozenset({"youtu.be", "www.youtu.be"})
# /shorts/<id>, /live/<id>, /embed/<id> (and the old /v/<id>) on the watch hosts.
PATH_PREFIXES = ("shorts", "live", "embed", "v")
# Control characters, whitespace and backslashes inside a URL are how parsers get confused
# about where the host ends; a real YouTube link never has them.
UNSAFE = re.compile(r"[\s\\\x00-\x1f\x7f]")
# "javascript:..." but not "youtube.com:443/..." (a host and port without a scheme).
SCHEME_ONLY = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*:(?!\d)")


def canonical_youtube_url(video_id: str) -> str:
    return f"https://www.youtube.com/watch?v={video_id}"


def youtube_video_id(url: str) -> str:
    """The 11-character video id of a YouTube video URL, or ValidationError saying why not."""
    if not isinstance(url, str):
        raise ValidationError("Enter a YouTube video URL.", code="invalid")
    url = url.strip()
    if not url:
        raise ValidationError("Enter a YouTube video URL.", code="required")
    if len(url) > MAX_URL_LENGTH:
        raise ValidationError(
            f"The URL is too long (at most {MAX_URL_LENGTH} characters).", code="too_long"
        )
    if UNSAFE.search(url):
        raise ValidationError("The URL contains spaces or control characters.", code="invalid")
    if "://" not in url and SCHEME_ONLY.match(url):
        # javascript:, file:, data:, mailto: ... have a scheme but no "//" authority.
        raise ValidationError("Only http and https YouTube URLs are accepted.", code="scheme")
    if "://" not in url and not url.startswith("//"):
        # People paste "youtu.be/..." or "www.youtube.com/watch?v=..." without a scheme.
        url = "https://" + url
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise ValidationError("This is not a valid URL.", code="invalid") from exc
    if parts.scheme.lower() not in ("http", "https"):
        raise ValidationError("Only http and https YouTube URLs are accepted.", code="scheme")
    if "@" in parts.netloc or port not in (None, 80, 443):
        raise ValidationError(
            "The URL must not contain credentials or a port.", code="invalid_host"
        )
    host = (parts.hostname or "").lower()
    if host in WATCH_HOSTS:
        video_id = _id_from_watch_host(parts.path, parts.query)
    elif host in SHORT_HOSTS:
        video_id = _single_segment(parts.path)
    else:
        raise ValidationError(
            "Only YouTube video URLs (youtube.com or youtu.be) are accepted.", code="invalid_host"
        )
    if video_id is None or not VIDEO_ID.fullmatch(video_id):
        raise ValidationError(
            "This YouTube URL does not point to a video (no 11-character video id).",
            code="no_video",
        )
    return video_id


def normalize_youtube_url(url: str) -> tuple[str, str]:
    """(canonical URL, video id) for a user's YouTube URL; tracking parameters are dropped."""
    video_id = youtube_video_id(url)
    return canonical_youtube_url(video_id), video_id


def _id_from_watch_host(path: str, query: str) -> str | None:
    segments = [s for s in path.split("/") if s]
    if segments == ["watch"]:
        values = parse_qs(query).get("v", [])
        return values[0] if len(values) == 1 else None
    if len(segments) == 2 and segments[0] in PATH_PREFIXES:
        return segments[1]
    return None


def _single_segment(path: str) -> str | None:
    segments = [s for s in path.split("/") if s]
    return segments[0] if len(segments) == 1 else None
