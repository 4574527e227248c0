"""The engine's REST API for runs (`devtools.engine_api`), in the Inngest server's shapes and
with its authentication, over HTTP, backed by the runs the development executor drove."""

import hashlib
import time
import uuid
from urllib.parse import quote

import pytest
import requests
from django.conf import settings

from devtools.answers import new_ulid
from devtools.engine_api import EngineAPI
from videos.services import video_submit

pytestmark = pytest.mark.django_db(transaction=True)

URL = "https://www.youtube.com/watch?v=dQw4w9WgXcQ"
HEX = settings.INNGEST_SIGNING_KEY.removeprefix("signkey-test-")
HASHED = "signkey-test-" + hashlib.sha256(bytes.fromhex(HEX)).hexdigest()  # what the SDK sends


@pytest.fixture
def api(dev):
    api = EngineAPI(dev.executor, signing_key=settings.INNGEST_SIGNING_KEY).start()
    yield api
    api.close()


def get(api, path: str, key: str | None = HASHED) -> requests.Response:
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    return requests.get(api.url + path, headers=headers, timeout=10)


def settle(dev) -> None:
    deadline = time.monotonic() + 20
    while dev.active:
        assert time.monotonic() < deadline
        time.sleep(0.05)


def test_an_events_runs_and_a_run_in_the_servers_shapes(api, dev, user):
    video_submit(owner=user, youtube_url=URL)
    dev.poll_once()
    settle(dev)
    [run] = dev.finished
    [received] = [got for got in dev.received if got.event["name"] == "video/identify.clips"]

    answer = get(api, f"/v1/events/{received.id}/runs")
    assert answer.status_code == 200
    assert set(answer.json()) == {"data", "metadata"}
    assert set(answer.json()["metadata"]) == {"fetched_at", "cached_until"}
    [shaped] = answer.json()["data"]
    assert shaped == {
        "run_id": run.run_id,
        "run_started_at": run.started_at.isoformat().replace("+00:00", "Z"),
        "function_id": shaped["function_id"],
        "function_version": 1,
        "environment_id": "00000000-0000-4000-b000-000000000000",
        "event_id": received.id,
        "status": "Completed",
        "ended_at": run.ended_at.isoformat().replace("+00:00", "Z"),
        "output": run.output,
    }
    assert uuid.UUID(shaped["function_id"])  # the function's UUID, not its slug
    assert get(api, f"/v1/runs/{run.run_id}").json()["data"] == shaped


def test_ids_are_ulids_and_an_unknown_run_is_an_error(api, dev):
    own_id = "video/identify.clips:1:1"  # the event's own id is not the engine's
    assert get(api, f"/v1/events/{quote(own_id, safe='')}/runs").json() == {
        "error": f"Invalid event ID: {own_id}",
        "data": None,
        "status": 400,
    }
    assert get(api, "/v1/runs/nope").status_code == 400
    unknown = new_ulid()
    answer = get(api, f"/v1/runs/{unknown}")
    assert (answer.status_code, answer.json()["error"]) == (
        500,
        f"Unable to load function run: {unknown}",
    )
    assert get(api, f"/v1/events/{new_ulid()}/runs").json()["data"] == []


def test_the_signing_key_or_its_hash_authenticates(api):
    path = f"/v1/events/{new_ulid()}/runs"
    assert get(api, path, key=HASHED).status_code == 200
    assert get(api, path, key=settings.INNGEST_SIGNING_KEY).status_code == 200
    assert get(api, path, key=HEX).status_code == 200  # without its prefix
    refused = get(api, path, key="signkey-test-" + "ef" * 32)
    assert (refused.status_code, refused.text) == (401, "Authentication failed\n")
    assert get(api, path, key=None).status_code == 401
