"""Liveness and readiness over HTTP (Django's test client), with real dependencies: the test
database, the cache, a fake S3 endpoint and the fake Inngest event API on 127.0.0.1."""

import socket

import pytest


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_liveness_answers_without_touching_any_dependency(client):
    # No django_db mark: any database access would raise here.
    response = client.get("/healthz/")
    assert response.status_code == 200
    assert response.json() == {"process": "OK"}


@pytest.mark.django_db
def test_readiness_is_ok_when_every_dependency_answers(client, fake_inngest, settings):
    settings.AWS_S3_BUCKET_NAME = ""  # no bucket configured: storage is not checked
    response = client.get("/readyz/")
    assert response.status_code == 200, response.content
    assert response.json() == {"database": "OK", "cache": "OK", "storage": "OK", "inngest": "OK"}
    # The probe sent an empty batch: no event reached the event API.
    assert fake_inngest.events == []


@pytest.mark.django_db
def test_readiness_names_the_inngest_event_api_when_it_is_down(client, fake_inngest):
    fake_inngest.down()
    response = client.get("/readyz/")
    assert response.status_code == 503
    body = response.json()
    assert body["inngest"].startswith("Unavailable: event API at http://127.0.0.1:")
    assert "test-event-key" not in response.content.decode()  # the key is not shown
    assert {name: body[name] for name in ("database", "cache", "storage")} == {
        "database": "OK",
        "cache": "OK",
        "storage": "OK",
    }


@pytest.mark.django_db
def test_readiness_fails_when_the_event_api_refuses_the_key(client, fake_inngest):
    fake_inngest.fail(401)
    response = client.get("/readyz/")
    assert response.status_code == 503
    assert response.json()["inngest"].endswith("answered 401")


@pytest.mark.django_db
def test_readiness_heads_the_configured_bucket(client, fake_inngest, s3, settings):
    assert client.get("/readyz/").status_code == 200

    settings.AWS_S3_BUCKET_NAME = "someone-elses-bucket"
    response = client.get("/readyz/")
    assert response.status_code == 503
    assert response.json()["storage"] == "Unavailable: bucket someone-elses-bucket answered 404"


@pytest.mark.django_db
def test_readiness_names_storage_when_the_store_is_down(client, fake_inngest, s3):
    s3.down()
    response = client.get("/readyz/")
    assert response.status_code == 503
    assert response.json()["storage"].startswith(f"Unavailable: bucket {s3.name} unreachable")
    assert response.json()["inngest"] == "OK"


@pytest.mark.django_db
def test_readiness_names_the_cache_when_it_is_down(client, fake_inngest, settings):
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": f"redis://127.0.0.1:{closed_port()}",
        }
    }
    response = client.get("/readyz/")
    assert response.status_code == 503
    body = response.json()
    assert body["cache"].startswith("Unexpected Result")
    assert body["database"] == "OK"


@pytest.mark.django_db
def test_readiness_answers_json_to_a_browser_and_text_on_request(client, fake_inngest):
    response = client.get("/readyz/", HTTP_ACCEPT="text/html,application/xhtml+xml,*/*;q=0.8")
    assert response.status_code == 200
    assert response.json()["database"] == "OK"
    text = client.get("/readyz/", HTTP_ACCEPT="text/plain")
    assert text.content.decode().splitlines() == [
        "database: OK",
        "cache: OK",
        "storage: OK",
        "inngest: OK",
    ]
