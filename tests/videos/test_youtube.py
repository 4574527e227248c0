import pytest
from django.core.exceptions import ValidationError

from videos.youtube import normalize_youtube_url

VIDEO_ID = "dQw4w9WgXcQ"
CANONICAL = f"https://www.youtube.com/watch?v={VIDEO_ID}"


@pytest.mark.parametrize(
    "url",
    [
        f"https://www.youtube.com/watch?v={VIDEO_ID}",
        f"http://youtube.com/watch?v={VIDEO_ID}",
        f"https://m.youtube.com/watch?v={VIDEO_ID}&feature=share",
        f"https://music.youtube.com/watch?v={VIDEO_ID}&list=RDAMVM{VIDEO_ID}",
        f"https://www.youtube.com/watch?feature=youtu.be&v={VIDEO_ID}&t=42s&si=abc",
        f"https://youtu.be/{VIDEO_ID}",
        f"https://youtu.be/{VIDEO_ID}?si=tracking123&t=10",
        f"https://www.youtube.com/shorts/{VIDEO_ID}",
        f"https://youtube.com/shorts/{VIDEO_ID}?feature=share",
        f"https://www.youtube.com/live/{VIDEO_ID}?si=x",
        f"https://www.youtube.com/embed/{VIDEO_ID}?autoplay=1",
        f"www.youtube.com/watch?v={VIDEO_ID}",
        f"youtu.be/{VIDEO_ID}",
        f"  https://WWW.YouTube.com/watch?v={VIDEO_ID}  ",
        f"https://www.youtube.com:443/watch?v={VIDEO_ID}",
        f"https://www.youtube.com/watch/?v={VIDEO_ID}#t=30",
    ],
)
def test_accepted_urls_normalize_to_the_canonical_watch_url(url):
    assert normalize_youtube_url(url) == (CANONICAL, VIDEO_ID)


@pytest.mark.parametrize(
    "url",
    [
        "",
        "not a url",
        f"https://vimeo.com/{VIDEO_ID}",
        f"https://youtube.com.evil.com/watch?v={VIDEO_ID}",
        f"https://evil-youtube.com/watch?v={VIDEO_ID}",
        f"https://notyoutu.be/{VIDEO_ID}",
        f"https://www.youtube.com@evil.com/watch?v={VIDEO_ID}",
        f"https://user:pass@www.youtube.com/watch?v={VIDEO_ID}",
        f"https://evil.com\\@youtube.com/watch?v={VIDEO_ID}",
        f"https://142.250.74.46/watch?v={VIDEO_ID}",
        f"https://[2a00:1450::1]/watch?v={VIDEO_ID}",
        f"https://www.youtube.com:8080/watch?v={VIDEO_ID}",
        "javascript:alert(1)//youtube.com/watch?v=dQw4w9WgXcQ",
        f"file:///etc/passwd?v={VIDEO_ID}",
        f"ftp://youtube.com/watch?v={VIDEO_ID}",
        f"data:text/html,youtube.com/watch?v={VIDEO_ID}",
        "https://www.youtube.com/@SomeChannel",
        "https://www.youtube.com/channel/UC38IQsAvIsxxjztdMZQtwHA",
        "https://www.youtube.com/playlist?list=PLFgquLnL59alCl_2TQvOiD5Vgm1hCaGSI",
        "https://www.youtube.com/watch?list=PLFgquLnL59alCl_2TQvOiD5Vgm1hCaGSI",
        "https://www.youtube.com/watch?v=short",
        f"https://www.youtube.com/watch?v={VIDEO_ID}x",
        f"https://www.youtube.com/watch?v={VIDEO_ID}&v=aaaaaaaaaaa",
        "https://www.youtube.com/watch?v=dQw4w9WgX<Q",
        f"https://youtu.be/{VIDEO_ID}/extra",
        f"https://www.youtube.com/shorts/{VIDEO_ID}/more",
        f"https://www.youtube.com/watch?v={VIDEO_ID}\nhttps://evil.com",
        f"https://www.youtube.com/watch?v={VIDEO_ID}&x=" + "a" * 3000,
        "https://www.youtube.com/",
    ],
)
def test_anything_else_is_refused_with_a_message(url):
    with pytest.raises(ValidationError) as caught:
        normalize_youtube_url(url)
    assert caught.value.messages[0]


def test_over_long_input_says_so():
    with pytest.raises(ValidationError, match="too long"):
        normalize_youtube_url(f"https://youtu.be/{VIDEO_ID}?" + "a" * 5000)
