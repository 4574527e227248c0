"""Token authentication with a short-lived cache: fast polls, and revocation still works."""

from io import StringIO

import pytest
from django.core.management import call_command
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from tests.factories import VideoFactory
from videos.models import Video

pytestmark = pytest.mark.django_db
VIDEOS = "/api/videos/"


@pytest.fixture
def token(user):
    return Token.objects.create(user=user)


@pytest.fixture
def client(token):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
    return client


def status_url(video):
    return f"/api/videos/{video.pk}/status/"


def test_a_warm_token_costs_no_query(client, user, django_assert_num_queries):
    # Processing: a pending video's poll also reads why it waits (a second query).
    video = VideoFactory(owner=user, status=Video.Status.PROCESSING)
    with django_assert_num_queries(2):  # the token and its user, the status row
        assert client.get(status_url(video)).status_code == 200
    with django_assert_num_queries(1):  # the status row
        assert client.get(status_url(video)).status_code == 200


def test_a_deleted_token_is_refused_at_once(client, token, user):
    video = VideoFactory(owner=user)
    assert client.get(status_url(video)).status_code == 200

    token.delete()

    assert client.get(status_url(video)).status_code == 401


def test_a_regenerated_token_replaces_the_old_one_at_once(client, user):
    video = VideoFactory(owner=user)
    assert client.get(status_url(video)).status_code == 200

    call_command("drf_create_token", "-r", user.username, stdout=StringIO())

    assert client.get(status_url(video)).status_code == 401
    fresh = APIClient()
    fresh.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.get(user=user).key}")
    assert fresh.get(status_url(video)).status_code == 200


def test_a_deactivated_user_is_refused_at_once(client, user):
    video = VideoFactory(owner=user)
    assert client.get(status_url(video)).status_code == 200

    user.is_active = False
    user.save()

    assert client.get(status_url(video)).status_code == 401


def test_an_unknown_token_is_refused_and_not_cached(user):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION="Token not-a-real-token")
    assert client.get("/api/videos/").status_code == 401
    token = Token.objects.create(user=user, key="not-a-real-token")
    assert token.key == "not-a-real-token"
    assert client.get("/api/videos/").status_code == 200


def test_the_cache_can_be_turned_off(client, user, settings, django_assert_num_queries):
    settings.KORAI_TOKEN_CACHE_SECONDS = 0
    video = VideoFactory(owner=user, status=Video.Status.PROCESSING)
    client.get(status_url(video))
    with django_assert_num_queries(2):
        assert client.get(status_url(video)).status_code == 200


def test_token_authentication_works(user):
    from rest_framework.authtoken.models import Token

    token = Token.objects.create(user=user)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
    assert client.get(VIDEOS).status_code == 200
    client.credentials(HTTP_AUTHORIZATION="Token not-a-real-token")
    assert client.get(VIDEOS).status_code == 401


def test_drf_create_token_command_makes_a_working_token(user):
    from django.core.management import call_command
    from rest_framework.authtoken.models import Token

    call_command("drf_create_token", user.username)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.get(user=user).key}")
    assert client.get(VIDEOS).status_code == 200


HINT = (
    "An API token goes in 'Authorization: Token <token>', not 'Bearer' (which is for Clerk "
    "session tokens)."
)


def test_an_api_token_sent_as_bearer_is_told_the_scheme(token):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {token.key}")

    answer = client.get(VIDEOS)

    assert answer.status_code == 401
    assert answer.json()["error"]["message"] == HINT
    assert answer["WWW-Authenticate"] == "Token"
