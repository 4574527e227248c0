"""Liveness and readiness over HTTP (Django's test client, and a live server for a flood of
probes), with real dependencies: the test database, the cache, a fake S3 endpoint and the fake
Inngest event API on 127.0.0.1. The public reads only which dependency failed; the metrics
token or a staff session reads each check's outcome."""

import socket
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests

from operations import health

TOKEN = "readiness-test-token"


@pytest.fixture
def details(settings) -> dict:
    """The headers that read readiness's details: the metrics token."""
    settings.METRICS_TOKEN = TOKEN
    return {"Authorization": f"Bearer {TOKEN}"}


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
def test_readiness_is_ok_when_every_dependency_answers(client, fake_inngest, settings, details):
    settings.AWS_S3_BUCKET_NAME = ""  # no bucket configured: storage is not checked
    assert client.get("/readyz/").json() == {"status": "ok"}
    response = client.get("/readyz/", headers=details)
    assert response.status_code == 200, response.content
    assert response.json() == {"database": "OK", "cache": "OK", "storage": "OK", "inngest": "OK"}
    # The probe sent an empty batch: no event reached the event API.
    assert fake_inngest.events == []


@pytest.mark.django_db
def test_readiness_names_the_inngest_event_api_when_it_is_down(client, fake_inngest, details):
    fake_inngest.down()
    response = client.get("/readyz/", headers=details)
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
def test_readiness_fails_when_the_event_api_refuses_the_key(client, fake_inngest, details):
    fake_inngest.fail(401)
    response = client.get("/readyz/", headers=details)
    assert response.status_code == 503
    assert response.json()["inngest"].endswith("answered 401")


@pytest.mark.django_db
def test_readiness_heads_the_configured_bucket(client, fake_inngest, s3, settings, details):
    assert client.get("/readyz/").status_code == 200

    settings.AWS_S3_BUCKET_NAME = "someone-elses-bucket"
    response = client.get("/readyz/", headers=details)
    assert response.status_code == 503
    assert response.json()["storage"] == "Unavailable: bucket someone-elses-bucket answered 404"


@pytest.mark.django_db
def test_readiness_names_storage_when_the_store_is_down(client, fake_inngest, s3, details):
    s3.down()
    response = client.get("/readyz/", headers=details)
    assert response.status_code == 503
    assert response.json()["storage"].startswith(f"Unavailable: bucket {s3.name} unreachable")
    assert response.json()["inngest"] == "OK"


@pytest.mark.django_db
def test_readiness_names_the_cache_when_it_is_down(client, fake_inngest, settings, details):
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": f"redis://127.0.0.1:{closed_port()}",
        }
    }
    response = client.get("/readyz/", headers=details)
    assert response.status_code == 503
    body = response.json()
    assert body["cache"].startswith("Unexpected Result")
    assert body["database"] == "OK"


@pytest.mark.django_db
def test_readiness_answers_json_to_a_browser_and_text_on_request(client, fake_inngest, details):
    browser = "text/html,application/xhtml+xml,*/*;q=0.8"
    response = client.get("/readyz/", headers={**details, "Accept": browser})
    assert response.status_code == 200
    assert response.json()["database"] == "OK"
    assert client.get("/readyz/", HTTP_ACCEPT="text/plain").content == b"ok\n"
    text = client.get("/readyz/", headers={**details, "Accept": "text/plain"})
    assert text.content.decode().splitlines() == [
        "database: OK",
        "cache: OK",
        "storage: OK",
        "inngest: OK",
    ]


# --- what the public reads, and who reads more ------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize(
    "query", ["", "?format=text", "?format=rss", "?format=atom", "?format=openmetrics"]
)
def test_the_public_reads_only_which_dependency_failed(client, fake_inngest, s3, query):
    s3.down()
    fake_inngest.down()

    response = client.get(f"/readyz/{query}")

    assert response.status_code == 503
    content = response.content.decode()
    if query == "?format=text":
        assert content == "unavailable: storage, inngest\n"
    else:
        assert response.json() == {"status": "unavailable", "failed": ["storage", "inngest"]}
    for detail in (s3.name, "127.0.0.1", "Unavailable", "Error"):
        assert detail not in content


@pytest.mark.django_db
def test_a_wrong_token_or_a_user_who_is_not_staff_reads_what_the_public_reads(
    client, fake_inngest, details, user
):
    fake_inngest.down()
    public = {"status": "unavailable", "failed": ["inngest"]}
    assert client.get("/readyz/", headers={"Authorization": "Bearer wrong"}).json() == public
    client.force_login(user)
    assert client.get("/readyz/").json() == public


@pytest.mark.django_db
def test_a_staff_session_reads_each_checks_outcome(admin_client, fake_inngest):
    fake_inngest.down()
    body = admin_client.get("/readyz/").json()
    assert body["inngest"].startswith("Unavailable: event API at http://127.0.0.1:")
    assert body["database"] == "OK"


@pytest.mark.django_db
def test_with_the_development_executor_readiness_does_not_probe_inngest(
    client, fake_inngest, s3, settings, details
):
    # make run without a Dev Server: no Inngest anywhere, the executor takes the outbox.
    settings.KORAI_DEV_EXECUTOR_RUNNING = True
    fake_inngest.down()

    response = client.get("/readyz/", headers=details)

    assert response.status_code == 200
    assert response.json() == {"database": "OK", "cache": "OK", "storage": "OK"}
    s3.down()
    assert client.get("/readyz/").json() == {"status": "unavailable", "failed": ["storage"]}


# --- a flood of probes --------------------------------------------------------------------------


@pytest.fixture
def reused_for(settings):
    """Probe outcomes reused for this many seconds, none remembered from an earlier test."""
    for check in (health.ObjectStorageReady, health.InngestEventApiReady):
        check._outcome = None
    settings.KORAI_READINESS_CACHE_SECONDS = 1.0
    return settings.KORAI_READINESS_CACHE_SECONDS


def _probes(s3, fake_inngest) -> tuple[int, int]:
    heads = [request for request in s3.store.requests if request == ("HEAD", f"/{s3.name}")]
    return len(heads), fake_inngest.posts


@pytest.mark.django_db(transaction=True)
def test_a_flood_of_probes_heads_the_bucket_and_posts_once_per_interval(
    live_server, fake_inngest, s3, reused_for
):
    def probe(_):
        return requests.get(f"{live_server.url}/readyz/", timeout=10).status_code

    with ThreadPoolExecutor(max_workers=8) as pool:
        assert set(pool.map(probe, range(40))) == {200}
    assert _probes(s3, fake_inngest) == (1, 1)

    time.sleep(reused_for)  # the interval is over: the next probe asks again
    assert probe(0) == 200
    assert _probes(s3, fake_inngest) == (2, 2)


@pytest.mark.django_db
def test_a_failure_is_reused_too_until_the_interval_ends(client, fake_inngest, s3, reused_for):
    fake_inngest.down()
    down = {"status": "unavailable", "failed": ["inngest"]}
    assert client.get("/readyz/").json() == down
    fake_inngest.up()
    assert client.get("/readyz/").json() == down  # within the interval: the same outcome
    time.sleep(reused_for)
    assert client.get("/readyz/").json() == {"status": "ok"}
