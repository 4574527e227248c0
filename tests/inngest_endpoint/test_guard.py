"""The guard of `/api/inngest` (`inngest_endpoint.guard`): only a request signed with the signing
key (or its fallback during a rotation) inside the time window reaches a function; anything
malformed is answered 4xx in the API's error shape and never runs a step; a replayed signature
is refused."""

import hashlib
import hmac
import json
import socket
import time
import urllib.parse

import pytest
import requests
from django.conf import settings
from django.test import RequestFactory
from inngest._internal.net import sign_request

from core import inngest as korai_inngest
from devtools.executor import InngestExecutor
from exports.functions import process_clips
from inngest_endpoint.models import SeenSignature
from tests.error_shape import assert_error_shape
from tests.factories import SeenSignatureFactory
from videos.functions import identify_clips


def run_body(video_id: str = "x") -> dict:
    """A run request for a video that does not exist: a request that reaches the function is
    answered 500 with `is not a valid id` (no retry), so reaching it is visible."""
    event = {"name": "video/identify.clips", "data": {"videoId": video_id}, "id": "e1", "ts": 1}
    return {
        "event": event,
        "events": [event],
        "steps": {},
        "ctx": {
            "run_id": "r1",
            "attempt": 0,
            "disable_immediate_execution": False,
            "stack": {"stack": []},
        },
        "use_api": False,
    }


PARAMS = {"fnId": "korai-app-identify-clips", "stepId": "step"}
FUNCTIONS = [identify_clips, process_clips]
FALLBACK_KEY = "signkey-test-" + "cd" * 32


class Answer:
    """A requests.Response seen through the same helper as Django's test responses."""

    def __init__(self, response: requests.Response):
        self.status_code = response.status_code
        self.content = response.content
        self._response = response

    def __getitem__(self, name):
        return self._response.headers[name]

    def json(self):
        return self._response.json()


def post(live_server, raw: bytes, signature: str | None, params=PARAMS) -> Answer:
    headers = {"Content-Type": "application/json"}
    if signature is not None:
        headers["X-Inngest-Signature"] = signature
    response = requests.post(
        f"{live_server.url}/api/inngest", data=raw, params=params, headers=headers, timeout=10
    )
    return Answer(response)


def reached_the_function(answer: Answer) -> bool:
    return answer.status_code == 500 and "is not a valid id" in answer.json()["message"]


@pytest.fixture
def raw():
    return json.dumps(run_body()).encode()


# --- D4: malformed signature headers ------------------------------------------------------------


@pytest.mark.parametrize(
    "header",
    [
        "t=1" + "0" * 400 + "&s=x",
        "t=\u00b2&s=" + "a" * 64,  # "²".isdigit() is true, int("²") fails
        "t={now}&s=" + "\u00e9" * 64,  # compare_digest refuses non-ASCII text
        "t={now}&s=" + "a" * 63,
        "t={now}",
        "s=" + "a" * 64,
        "t={now}&s={sig}&t=1",
        "t=-{now}&s={sig}",
        "",
        "garbage",
    ],
)
def test_a_malformed_signature_header_is_a_401(live_server, raw, header):
    now = int(time.time())
    good = sign_request(raw, settings.INNGEST_SIGNING_KEY, now).split("&s=")[1]
    header = header.replace("{now}", str(now)).replace("{sig}", good)
    # requests sends header values as Latin-1, as a browser or curl would.
    answer = post(live_server, raw, header)
    error = assert_error_shape(answer, 401, "signature_invalid")
    assert "malformed" in error["message"] or "missing" in error["message"]


def test_a_wrong_hmac_is_a_401_in_the_same_shape(live_server, raw):
    signature = sign_request(raw, "signkey-test-" + "ef" * 32)
    error = assert_error_shape(post(live_server, raw, signature), 401, "signature_invalid")
    assert error["message"] == "The signature does not match."


# --- D6: signed but malformed -------------------------------------------------------------------


@pytest.mark.parametrize("fn_id", ["korai-app-nothing", "", "identify-clips-x", "\u00e9"])
def test_a_signed_request_for_an_unknown_function_is_a_404(live_server, raw, fn_id):
    answer = post(
        live_server,
        raw,
        sign_request(raw, settings.INNGEST_SIGNING_KEY),
        params={"fnId": fn_id, "stepId": "step"},
    )
    assert_error_shape(answer, 404, "function_not_found")


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"event": 1},
        {**run_body(), "ctx": {"attempt": "many"}},
        {**run_body(), "use_api": "yes"},
        {**run_body(), "event": {"name": "x", "data": {}, "ts": "yesterday"}},
        [],
        "text",
    ],
)
def test_a_signed_malformed_body_is_a_400_without_the_validators_text(live_server, body):
    raw = json.dumps(body).encode()
    answer = post(live_server, raw, sign_request(raw, settings.INNGEST_SIGNING_KEY))
    error = assert_error_shape(answer, 400, "malformed_body")
    assert error["message"] == "The body is not a function run request."
    assert b"validation error" not in answer.content and b"pydantic" not in answer.content


def test_a_signed_body_that_is_not_json_is_a_401(live_server):
    # The signature covers the canonical JSON of the body: no JSON, nothing to verify.
    raw = b"[" * 5000 + b"]" * 5000
    now = str(int(time.time()))
    key = settings.INNGEST_SIGNING_KEY.removeprefix("signkey-test-").encode()
    mac = hmac.new(key, raw + now.encode(), hashlib.sha256).hexdigest()
    answer = post(live_server, raw, f"t={now}&s={mac}")
    assert_error_shape(answer, 401, "signature_invalid")


def test_an_unknown_probe_is_a_400(live_server, raw):
    answer = post(
        live_server,
        raw,
        sign_request(raw, settings.INNGEST_SIGNING_KEY),
        params={**PARAMS, "probe": "everything"},
    )
    assert_error_shape(answer, 400, "invalid_probe")


def test_unsupported_methods_are_a_405_in_the_same_shape(client):
    assert_error_shape(client.delete("/api/inngest"), 405, "method_not_allowed")


# --- refused before the body is read --------------------------------------------------------------


def status_before_the_body(live_server, head: dict[str, str], sent: bytes) -> bytes:
    """The status line answered to a POST that announces 4 MB (under the limit) but sends only
    `sent`, as a client that trickles its body would: within 10 s, or a timeout."""
    url = urllib.parse.urlsplit(live_server.url)
    lines = [
        "POST /api/inngest?fnId=korai-app-identify-clips&stepId=step HTTP/1.1",
        f"Host: {url.netloc}",
        "Content-Type: application/json",
        "Content-Length: 4000000",
        *(f"{name}: {value}" for name, value in head.items()),
    ]
    with socket.create_connection((url.hostname, url.port), timeout=10) as connection:
        connection.sendall(("\r\n".join(lines) + "\r\n\r\n").encode() + sent)
        return connection.makefile("rb").readline()


@pytest.mark.parametrize(
    "head",
    [
        {},
        {"X-Inngest-Signature": "t=1&s=" + "a" * 64},
        {"X-Inngest-Signature": "garbage"},
    ],
    ids=["unsigned", "stale", "malformed"],
)
def test_a_refused_signature_is_answered_without_waiting_for_the_body(live_server, head):
    assert settings.INNGEST_MAX_BODY_BYTES > 4_000_000
    status = status_before_the_body(live_server, head, b'{"event"')
    assert status.startswith(b"HTTP/1.1 401"), status


# --- D7: replay ---------------------------------------------------------------------------------


def test_a_replayed_signature_is_refused_and_never_reaches_the_function(live_server, raw):
    signature = sign_request(raw, settings.INNGEST_SIGNING_KEY)

    first = post(live_server, raw, signature)
    replays = [post(live_server, raw, signature) for _ in range(3)]

    assert reached_the_function(first)
    for replay in replays:
        error = assert_error_shape(replay, 401, "signature_invalid")
        assert "already used" in error["message"]
    assert SeenSignature.objects.count() == 1


def test_the_same_body_signed_again_later_is_a_new_delivery(live_server, raw):
    now = int(time.time())
    assert reached_the_function(
        post(live_server, raw, sign_request(raw, settings.INNGEST_SIGNING_KEY, now))
    )
    again = post(live_server, raw, sign_request(raw, settings.INNGEST_SIGNING_KEY, now + 1))
    assert reached_the_function(again)


def test_a_refused_signature_is_not_remembered(live_server, raw):
    """Only verified signatures are recorded: forged ones cannot fill the table."""
    post(live_server, raw, sign_request(raw, "signkey-test-" + "ef" * 32))
    post(live_server, raw, "t=1&s=" + "a" * 64)
    assert SeenSignature.objects.count() == 0


def test_expired_signatures_are_purged(live_server, raw, monkeypatch):
    from inngest_endpoint import guard

    monkeypatch.setattr(guard, "PURGE_EVERY", 1)
    SeenSignatureFactory(signature="0" * 64, expires_at="2020-01-01T00:00:00Z")
    assert reached_the_function(
        post(live_server, raw, sign_request(raw, settings.INNGEST_SIGNING_KEY))
    )
    assert list(SeenSignature.objects.values_list("signature", flat=True)) != ["0" * 64]
    assert not SeenSignature.objects.filter(signature="0" * 64).exists()


def test_redeliveries_are_signed_afresh_and_accepted(live_server):
    """The executor's `redeliver=True` sends every request twice, as Inngest's retries of a
    lost answer do: with a new timestamp, so a new signature, which is not a replay."""
    executor = InngestExecutor(base_url=live_server.url, redeliver=True)
    body = run_body()
    first = executor.post(body, params=PARAMS)
    second = executor.post(body, params=PARAMS)
    assert first.status_code == second.status_code == 500
    assert "is not a valid id" in second.json()["message"]


# --- syncs (PUT) --------------------------------------------------------------------------------


def test_an_unsigned_sync_is_refused_unless_allowed(live_server):
    answer = Answer(requests.put(f"{live_server.url}/api/inngest", timeout=10))
    assert_error_shape(answer, 401, "signature_invalid")


def sync_ping(url: str, raw: bytes, signature: str) -> Answer:
    """A sync ping as `inngest start` sends it (pkg/deploy/deploy.go): PUT `{"url": ...}`."""
    headers = {
        "Content-Type": "application/json",
        "X-Inngest-Server-Kind": "cloud",
        "X-Inngest-Signature": signature,
    }
    return Answer(requests.put(f"{url}/api/inngest", data=raw, headers=headers, timeout=30))


def test_a_sync_ping_repeated_in_the_same_second_registers_twice(serve_inngest, fake_inngest):
    url = serve_inngest()
    raw = json.dumps({"url": f"{url}/api/inngest"}).encode()
    signature = sign_request(raw, settings.INNGEST_SIGNING_KEY)

    answers = [sync_ping(url, raw, signature) for _ in range(2)]

    assert [answer.status_code for answer in answers] == [200, 200]
    assert len(fake_inngest.registrations) == 2


def test_a_replayed_run_request_is_still_refused_after_a_repeated_ping(live_server, raw):
    ping = json.dumps({"url": f"{live_server.url}/api/inngest"}).encode()
    ping_signature = sign_request(ping, settings.INNGEST_SIGNING_KEY)
    sync_ping(live_server.url, ping, ping_signature)
    sync_ping(live_server.url, ping, ping_signature)
    signature = sign_request(raw, settings.INNGEST_SIGNING_KEY)

    assert reached_the_function(post(live_server, raw, signature))
    error = assert_error_shape(post(live_server, raw, signature), 401, "signature_invalid")
    assert "already used" in error["message"]


def test_an_allowed_unsigned_sync_that_fails_does_not_leak_internal_urls(live_server, settings):
    settings.INNGEST_ALLOW_UNSIGNED_SYNC = True  # the client points at 127.0.0.1:9: nobody there
    answer = Answer(requests.put(f"{live_server.url}/api/inngest", timeout=30))
    assert_error_shape(answer, 502, "sync_failed")
    assert b"127.0.0.1" not in answer.content


# --- signatures: the key, its rotation, the time window ------------------------------------


@pytest.fixture
def prober(live_server):
    return InngestExecutor(base_url=live_server.url)


def test_correctly_signed_request_reaches_the_function(prober):
    response = prober.post(run_body(), params=PARAMS)
    assert response.status_code == 500
    assert "is not a valid id" in response.json()["message"]
    assert response.headers["x-inngest-no-retry"] == "true"


def test_unsigned_request_is_refused(prober):
    assert prober.post(run_body(), params=PARAMS, key="").status_code == 401


def test_request_signed_with_another_key_is_refused(prober):
    other = "signkey-test-" + "ef" * 32
    assert prober.post(run_body(), params=PARAMS, key=other).status_code == 401


@pytest.mark.parametrize("offset", [-301, -3600, 301])
def test_stale_or_future_signature_is_refused(prober, offset):
    signed_at = int(time.time()) + offset
    response = prober.post(run_body(), params=PARAMS, signed_at=signed_at)
    assert response.status_code == 401
    assert "window" in response.json()["error"]["message"]


def test_signature_within_the_window_is_accepted(prober):
    response = prober.post(run_body(), params=PARAMS, signed_at=int(time.time()) - 250)
    assert response.status_code == 500  # reached the function


def test_garbled_signature_timestamp_is_refused(live_server):
    raw = json.dumps(run_body()).encode()
    signature = sign_request(raw, "signkey-test-" + "ab" * 32).replace("t=", "t=x")
    import requests

    response = requests.post(
        f"{live_server.url}/api/inngest",
        data=raw,
        params=PARAMS,
        timeout=5,
        headers={"X-Inngest-Signature": signature, "Content-Type": "application/json"},
    )
    assert response.status_code == 401


def test_unsigned_inspection_is_refused_in_production(client):
    assert client.get("/api/inngest").status_code == 401


def test_fallback_signing_key_is_accepted_during_rotation(db, settings):
    settings.INNGEST_SIGNING_KEY_FALLBACK = FALLBACK_KEY
    view = korai_inngest.serve(client=korai_inngest.create_client(), functions=FUNCTIONS).callback
    raw = json.dumps(run_body()).encode()

    def post(key):
        request = RequestFactory().post(
            "/api/inngest?fnId=korai-app-identify-clips&stepId=step",
            data=raw,
            content_type="application/json",
            HTTP_X_INNGEST_SIGNATURE=sign_request(raw, key),
        )
        return view(request)

    assert post(FALLBACK_KEY).status_code == 500  # reached the function
    assert post("signkey-test-" + "ef" * 32).status_code == 401
