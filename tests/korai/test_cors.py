"""CORS: browsers on the configured origins may call the API with credentials; any other origin
gets no CORS header at all, so the browser withholds the answer."""

import pytest
from django.test import Client

from tests.fakes.clerk import APP_ORIGIN

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def allowed_origins(settings):
    settings.CORS_ALLOWED_ORIGINS = [APP_ORIGIN]


def preflight(origin: str, path: str = "/api/clips/process", method: str = "POST"):
    return Client().options(
        path,
        HTTP_ORIGIN=origin,
        HTTP_ACCESS_CONTROL_REQUEST_METHOD=method,
        HTTP_ACCESS_CONTROL_REQUEST_HEADERS="authorization, content-type",
    )


def test_a_preflight_from_an_allowed_origin_is_answered_with_credentials():
    answer = preflight(APP_ORIGIN)

    assert answer.status_code == 200
    assert answer["Access-Control-Allow-Origin"] == APP_ORIGIN
    assert answer["Access-Control-Allow-Credentials"] == "true"
    allowed = answer["Access-Control-Allow-Headers"]
    assert "authorization" in allowed and "content-type" in allowed
    assert "POST" in answer["Access-Control-Allow-Methods"]
    assert "origin" in answer["Vary"].lower()


def test_a_preflight_from_another_origin_gets_no_cors_headers():
    answer = preflight("https://evil.test", path="/api/videos/", method="DELETE")

    assert "Access-Control-Allow-Origin" not in answer
    assert "Access-Control-Allow-Credentials" not in answer


def test_a_real_request_from_an_allowed_origin_may_be_read_with_credentials():
    answer = Client().get("/api/videos/", HTTP_ORIGIN=APP_ORIGIN)

    assert answer.status_code == 401  # not signed in, yet the browser may read why
    assert answer["Access-Control-Allow-Origin"] == APP_ORIGIN
    assert answer["Access-Control-Allow-Credentials"] == "true"


def test_a_wildcard_is_never_sent():
    answer = Client().get("/api/videos/", HTTP_ORIGIN="https://evil.test")

    assert answer.get("Access-Control-Allow-Origin") is None


def test_the_inngest_endpoint_is_not_opened_to_browsers():
    answer = preflight(APP_ORIGIN, path="/api/inngest")

    assert "Access-Control-Allow-Origin" not in answer
