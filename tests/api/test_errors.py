"""Every /api/ answer is JSON in the one error shape, whoever produced it (the URL resolver, a
plain Django view, an unexpected exception, an unreachable database)."""

import os
import socket
import subprocess
import sys
import uuid

import pytest
from django.conf import settings
from django.db import InterfaceError, OperationalError
from django.http import HttpResponse
from django.urls import path
from django.views import View
from rest_framework.test import APIClient

from tests.error_shape import assert_error_shape
from tests.factories import VideoFactory
from videos import selectors


@pytest.fixture(params=[False, True], ids=["production", "debug"])
def debug(request, settings):
    # Django answers with its technical HTML pages in DEBUG: both modes must answer JSON.
    settings.DEBUG = request.param
    return request.param


@pytest.mark.parametrize(
    "path",
    [
        "/api/nothing-here/",
        "/api/nothing-here",
        "/api/videos/not-a-uuid/",
        "/api/videos/not-a-uuid/status/",
        "/api/videos/12345/clips/",
        "/api/exports/%27%3B--/",
    ],
)
def test_unknown_paths_and_malformed_ids_are_json_404s(api_client, debug, path):
    error = assert_error_shape(api_client.get(path), 404, "not_found")
    assert "Not found" in error["message"]


def test_a_well_formed_id_of_nobody_is_a_json_404(api_client, debug):
    error = assert_error_shape(
        api_client.get(f"/api/videos/{uuid.uuid4()}/status/"), 404, "not_found"
    )
    assert error["message"] == "No video with this id."


def test_a_method_an_endpoint_lacks_is_a_json_405_with_allow(api_client, debug, user):
    video = VideoFactory(owner=user)
    response = api_client.delete(f"/api/videos/{video.pk}/status/")
    assert_error_shape(response, 405, "method_not_allowed")
    assert "GET" in response["Allow"]


class PlainGetView(View):
    def get(self, request):
        return HttpResponse("ok")


# A plain Django view under /api/ (not DRF, whose own handler answers JSON): only the middleware
# stands between its HTML 405 and the client.
urlpatterns = [path("api/plain/", PlainGetView.as_view())]


@pytest.mark.urls(__name__)
def test_a_plain_django_views_405_is_json_too(client, debug):
    response = client.post("/api/plain/")
    assert_error_shape(response, 405, "method_not_allowed")
    assert response["Allow"] == "GET, HEAD, OPTIONS"


def test_an_unexpected_error_is_a_json_500(user, debug, monkeypatch):
    def broken(**kwargs):
        raise RuntimeError("a bug")

    monkeypatch.setattr(selectors, "video_status_get", broken)
    client = APIClient(raise_request_exception=False)
    client.force_authenticate(user)
    error = assert_error_shape(
        client.get(f"/api/videos/{uuid.uuid4()}/status/"), 500, "server_error"
    )
    assert "a bug" not in error["message"]  # nothing internal leaks


@pytest.mark.parametrize(
    "exception",
    [
        OperationalError("connection to server at 127.0.0.1 failed: Connection refused"),
        InterfaceError("connection already closed"),
    ],
)
def test_an_unreachable_database_is_a_503_with_retry_after(user, debug, monkeypatch, exception):
    def database_down(**kwargs):
        raise exception

    monkeypatch.setattr(selectors, "video_status_get", database_down)
    client = APIClient(raise_request_exception=False)
    client.force_authenticate(user)
    response = client.get(f"/api/videos/{uuid.uuid4()}/status/")
    error = assert_error_shape(response, 503, "service_unavailable")
    assert int(response["Retry-After"]) > 0
    assert "127.0.0.1" not in error["message"]


def test_a_database_failure_in_a_middleware_is_a_503_too(user, monkeypatch):
    # Outside any view (here: reading the session), so Django's handler500 answers.
    def database_down(self, *args, **kwargs):
        raise OperationalError("the database system is shutting down")

    monkeypatch.setattr(
        "django.contrib.sessions.middleware.SessionMiddleware.process_request", database_down
    )
    client = APIClient(raise_request_exception=False)
    response = client.get("/api/videos/")
    assert_error_shape(response, 503, "service_unavailable")
    assert response["Retry-After"]


def test_with_the_database_down_for_real_the_api_answers_503(tmp_path):
    # A fresh process whose DATABASE_URL points at a port nothing listens on: the real
    # psycopg connection error, through the real middleware stack.
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    code = (
        "import django; django.setup();"
        "from django.test.utils import setup_test_environment; setup_test_environment();"
        "from django.test import Client;"
        "r = Client(raise_request_exception=False).get("
        "'/api/videos/', HTTP_AUTHORIZATION='Token 0123456789abcdef');"
        "print(r.status_code, r['Retry-After'], r.content.decode())"
    )
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "tests.settings",
        "DATABASE_URL": f"postgres://postgres@127.0.0.1:{port}/korai",
        "KORAI_TOKEN_CACHE_SECONDS": "0",
    }
    result = subprocess.run(
        [sys.executable, "-c", code],
        cwd=settings.BASE_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    status_code, retry_after, body = result.stdout.strip().split(" ", 2)
    assert (status_code, retry_after) == ("503", "5"), result.stderr
    assert '"code": "service_unavailable"' in body


def test_the_web_clients_routes_keep_their_own_error_shape(client):
    # Under /api/clips/ the original client reads {"error": "<sentence>"}.
    response = client.get("/api/clips/no-such/route")
    assert response.status_code == 404
    assert response["Content-Type"] == "application/json"
    assert response.json() == {
        "error": "Not found: /api/clips/no-such/route. No API endpoint has this path, or an id "
        "in it is not a valid UUID."
    }


def test_a_form_post_is_a_415_that_says_to_send_json(api_client):
    response = api_client.post(
        "/api/videos/",
        "youtube_url=https%3A%2F%2Fyoutu.be%2FdQw4w9WgXcQ",
        content_type="application/x-www-form-urlencoded",
    )

    assert response.status_code == 415
    assert response.json()["error"] == {
        "code": "unsupported_media_type",
        "message": 'Unsupported media type "application/x-www-form-urlencoded" in request: '
        "send application/json.",
    }
