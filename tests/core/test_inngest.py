"""The Inngest client (`core.inngest`): its configuration checked at start-up, dev mode only when
asked, the Dev Server sync of the served functions, the event API's URL, the public URL a sync
registers."""

import json
import os
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import requests
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.test import RequestFactory
from inngest._internal.net import sign_request

from core import inngest as korai_inngest
from exports.functions import process_clips, process_clips_endings
from videos.functions import identify_clips, identify_clips_endings

FUNCTIONS = [identify_clips, *identify_clips_endings, process_clips, *process_clips_endings]


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"INNGEST_SIGNING_KEY": ""}, "INNGEST_SIGNING_KEY is not set"),
        ({"INNGEST_SIGNING_KEY": "abc123"}, "INNGEST_SIGNING_KEY is malformed"),
        ({"INNGEST_SIGNING_KEY": "signkey-prod-nothex"}, "INNGEST_SIGNING_KEY is malformed"),
        ({"INNGEST_EVENT_KEY": ""}, "INNGEST_EVENT_KEY is not set"),
        (
            {"INNGEST_SIGNING_KEY_FALLBACK": "signkey-x"},
            "INNGEST_SIGNING_KEY_FALLBACK is malformed",
        ),
    ],
)
def test_production_without_usable_keys_refuses_to_start(settings, overrides, message):
    for name, value in overrides.items():
        setattr(settings, name, value)
    with pytest.raises(ImproperlyConfigured, match=message):
        korai_inngest.serve(client=korai_inngest.create_client(), functions=FUNCTIONS)


def test_dev_mode_only_when_asked(settings):
    settings.INNGEST_DEV = "1"
    assert korai_inngest.is_dev_mode()
    settings.INNGEST_DEV = "http://127.0.0.1:8288"
    assert korai_inngest.is_dev_mode()
    # DEBUG without keys is not dev mode: a stray DJANGO_DEBUG must not turn off signatures.
    settings.DEBUG = True
    settings.INNGEST_SIGNING_KEY = ""
    for flag in ("", "0", "false"):
        settings.INNGEST_DEV = flag
        assert not korai_inngest.is_dev_mode()


def test_dev_mode_needs_no_keys_and_reports_both_functions(settings):
    settings.INNGEST_DEV = "1"
    settings.INNGEST_EVENT_KEY = settings.INNGEST_SIGNING_KEY = ""
    view = korai_inngest.serve(client=korai_inngest.create_client(), functions=FUNCTIONS).callback

    response = view(RequestFactory().get("/api/inngest"))

    assert response.status_code == 200
    body = json.loads(response.content)
    assert (body["mode"], body["function_count"]) == ("dev", 6)


class _Registry(BaseHTTPRequestHandler):
    received: list

    def do_POST(self):
        self.received.append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
        payload = b'{"ok": true}'
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, *args):
        return


def test_dev_server_sync_registers_both_functions_with_flow_control(settings):
    received = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), type("H", (_Registry,), {"received": received}))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        settings.INNGEST_DEV = f"http://127.0.0.1:{server.server_address[1]}"
        settings.INNGEST_BASE_URL = ""
        view = korai_inngest.serve(
            client=korai_inngest.create_client(), functions=FUNCTIONS
        ).callback
        response = view(RequestFactory().put("/api/inngest"))
    finally:
        server.shutdown()
        server.server_close()

    assert response.status_code == 200
    functions = {f["id"]: f for f in received[0]["functions"]}
    assert set(functions) == {
        "korai-app-identify-clips",
        "korai-app-identify-clips-failed",
        "korai-app-identify-clips-cancelled",
        "korai-app-process-clips",
        "korai-app-process-clips-failed",
        "korai-app-process-clips-cancelled",
    }
    # The failure is recorded by a function with retries, not the SDK's one-attempt on_failure.
    failed = functions["korai-app-process-clips-failed"]
    assert failed["triggers"] == [
        {
            "event": "inngest/function.failed",
            "expression": "event.data.function_id == 'korai-app-process-clips'",
        }
    ]
    assert failed["steps"]["step"]["retries"] == {"attempts": settings.INNGEST_RETRIES}
    assert functions["korai-app-identify-clips-cancelled"]["triggers"] == [
        {
            "event": "inngest/function.cancelled",
            "expression": "event.data.function_id == 'korai-app-identify-clips'",
        }
    ]
    identify = functions["korai-app-identify-clips"]
    assert identify["triggers"] == [{"event": "video/identify.clips"}]
    assert identify["concurrency"] == [
        {"key": "event.data.userId", "limit": settings.INNGEST_CONCURRENCY_PER_USER},
        {"limit": settings.INNGEST_CONCURRENCY_GLOBAL},
    ]
    assert identify["steps"]["step"]["retries"] == {"attempts": settings.INNGEST_RETRIES}
    assert functions["korai-app-process-clips"]["triggers"] == [{"event": "clips/process"}]


def test_event_api_url_follows_settings(settings):
    settings.INNGEST_BASE_URL = "http://127.0.0.1:8288/"
    settings.INNGEST_EVENT_KEY = "key/1"
    assert korai_inngest.event_api_url() == "http://127.0.0.1:8288/e/key%2F1"
    settings.INNGEST_BASE_URL = ""
    assert korai_inngest.event_api_url() == "https://inn.gs/e/key%2F1"
    settings.INNGEST_DEV = "1"
    settings.INNGEST_EVENT_KEY = ""
    assert korai_inngest.event_api_url() == "http://127.0.0.1:8288/e/NO_EVENT_KEY_SET"


def test_missing_signing_key_stops_the_service_at_start_up():
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "tests.settings", "INNGEST_SIGNING_KEY": ""}
    result = subprocess.run(
        [sys.executable, "manage.py", "check"],
        cwd=settings.BASE_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode != 0
    assert "Traceback" not in result.stderr
    assert "Configuration error: Inngest production mode: INNGEST_SIGNING_KEY is not set" in (
        result.stderr
    )


# --- the URL a sync registers -------------------------------------------------------------------

PUBLIC_URL = "https://steps.korai.example/korai/api/inngest"


@pytest.fixture
def public_url(serve_inngest, fake_inngest, settings):
    """The endpoint served behind a proxy that Inngest reaches at PUBLIC_URL (registering with
    the fake Inngest API)."""
    settings.INNGEST_SERVE_ORIGIN = "https://steps.korai.example"
    settings.INNGEST_SERVE_PATH = "/korai/api/inngest"
    return serve_inngest()


def signed(raw: bytes, **headers) -> dict:
    return {
        "Content-Type": "application/json",
        "X-Inngest-Signature": sign_request(raw, settings.INNGEST_SIGNING_KEY),
        **headers,
    }


def test_an_out_of_band_sync_registers_the_public_url(public_url, fake_inngest):
    # The ping of `inngest start` (pkg/deploy/deploy.go), which reached the app at another URL.
    raw = json.dumps({"url": f"{public_url}/api/inngest"}).encode()
    answer = requests.put(
        f"{public_url}/api/inngest",
        data=raw,
        headers=signed(raw, **{"X-Inngest-Server-Kind": "cloud"}),
        timeout=30,
    )

    assert answer.status_code == 200, answer.text
    [registration] = fake_inngest.registrations
    assert registration["url"] == PUBLIC_URL
    runtimes = {f["id"]: f["steps"]["step"]["runtime"]["url"] for f in registration["functions"]}
    assert runtimes["korai-app-identify-clips"].startswith(f"{PUBLIC_URL}?fnId=")


def test_an_in_band_sync_and_the_inspection_report_the_public_url(public_url):
    raw = json.dumps({"url": f"{public_url}/api/inngest"}).encode()
    synced = requests.put(
        f"{public_url}/api/inngest",
        data=raw,
        headers=signed(raw, **{"X-Inngest-Sync-Kind": "in_band"}),
        timeout=30,
    )
    inspected = requests.get(f"{public_url}/api/inngest", headers=signed(b""), timeout=30)

    assert synced.status_code == 200, synced.text
    assert synced.json()["url"] == PUBLIC_URL
    assert inspected.status_code == 200, inspected.text
    inspection = inspected.json()
    assert (inspection["serve_origin"], inspection["serve_path"]) == (
        "https://steps.korai.example",
        "/korai/api/inngest",
    )
