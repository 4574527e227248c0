"""/api/ paths work with and without their trailing slash (`api.middleware.ApiPathMiddleware`),
served by their twin, not redirected; an authenticated answer is private to its user, however
it was authenticated (`api.middleware.PrivateAnswerMiddleware`)."""

import pytest
from django.test import Client, override_settings
from rest_framework.authtoken.models import Token

from tests.factories import UserFactory, VideoFactory
from videos.models import Video

VIDEO_URL = "https://www.youtube.com/watch?v=dQw4w9WgXcQ"


@pytest.mark.parametrize("debug_mode", [False, True])
def test_post_without_the_trailing_slash_submits_the_video(api_client, debug_mode, fake_inngest):
    with override_settings(DEBUG=debug_mode):
        response = api_client.post("/api/videos", {"youtube_url": VIDEO_URL}, format="json")
    assert response.status_code == 202, response.content
    assert response.json()["processing_status"] == "pending"
    assert Video.objects.count() == 1


def test_every_endpoint_answers_with_and_without_the_trailing_slash(api_client, user):
    video = VideoFactory(owner=user)
    for endpoint in (
        "/api/videos/",
        f"/api/videos/{video.pk}/",
        f"/api/videos/{video.pk}/status/",
        f"/api/videos/{video.pk}/clips/",
        f"/api/videos/{video.pk}/exports/",
    ):
        with_slash = api_client.get(endpoint)
        without_slash = api_client.get(endpoint.rstrip("/"))
        assert with_slash.status_code == without_slash.status_code == 200, endpoint
        assert with_slash.json() == without_slash.json()


def test_the_inngest_endpoint_answers_with_a_trailing_slash_too(client):
    # Its canonical path has none; an unsigned GET is refused by the SDK either way, not a 404.
    assert client.get("/api/inngest").status_code == client.get("/api/inngest/").status_code == 401


# --- Authenticated answers are private (`api.middleware.PrivateAnswerMiddleware`) -------------


def header_values(response, name: str) -> set[str]:
    return {value.strip().lower() for value in response.get(name, "").split(",") if value.strip()}


def signed_in_client(how: str, user, clerk) -> Client:
    """A client sending `user`'s credentials the way `how` says."""
    client = Client()
    if how == "clerk cookie":
        client.cookies["__session"] = clerk.session_token(user.clerk_id)
    elif how == "clerk bearer":
        client.defaults["HTTP_AUTHORIZATION"] = f"Bearer {clerk.session_token(user.clerk_id)}"
    elif how == "token":
        client.defaults["HTTP_AUTHORIZATION"] = f"Token {Token.objects.create(user=user).key}"
    else:  # the admin's session cookie
        client.force_login(user)
    return client


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("how", "varies_on"),
    [
        ("clerk cookie", "cookie"),
        ("clerk bearer", "authorization"),
        ("token", "authorization"),
        ("session", "cookie"),
    ],
)
@pytest.mark.parametrize(
    "path",
    [
        "/api/clips/videos",
        "/api/clips/list",
        "/api/videos/",
        "/api/clips/{video}",
        "/api/videos/{video}/",
    ],
)
def test_an_authenticated_answer_is_private_and_varies_on_its_credentials(
    clerk, how, varies_on, path
):
    user = UserFactory(clerk_id="user_web")
    video = VideoFactory(owner=user)

    response = signed_in_client(how, user, clerk).get(path.format(video=video.pk))

    assert response.status_code == 200, response.content
    assert {"private", "no-store"} <= header_values(response, "Cache-Control")
    assert varies_on in header_values(response, "Vary")


@pytest.mark.django_db
@pytest.mark.parametrize("how", ["clerk cookie", "token"])
def test_an_authenticated_error_answer_is_private_too(clerk, how):
    # Someone else's video: the 404 is this user's answer as much as a 200.
    user = UserFactory(clerk_id="user_web")
    video = VideoFactory()

    client = signed_in_client(how, user, clerk)
    for path in (f"/api/clips/{video.pk}", f"/api/videos/{video.pk}/"):
        response = client.get(path)
        assert response.status_code == 404
        assert {"private", "no-store"} <= header_values(response, "Cache-Control")


@pytest.mark.django_db
def test_an_unauthenticated_answer_is_left_alone(clerk):
    response = Client().get("/api/clips/videos")

    assert response.status_code == 401
    assert "private" not in header_values(response, "Cache-Control")
