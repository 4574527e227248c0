"""The README's walkthrough, end to end over real HTTP, with the clips sandbox as the external
APIs: the demo user's token submits a video, the recorded event runs identify-clips through
`/api/inngest` (driven as Inngest drives it), the clips appear in the API and the admin, and an
export of two of them completes, each clip downloadable through its download URL from the
bucket the sandbox wrote to (a local moto server).

This is the closest this machine gets to the Dev Server flow: the Dev Server itself cannot be
installed here, so the test-side executor stands in for it."""

import threading
from io import StringIO

import pytest
import requests
from django.core.management import call_command
from rest_framework.authtoken.models import Token

from devtools.executor import InngestExecutor
from devtools.sandbox import (
    IDENTIFY_PATH,
    PROCESS_PATH,
    SAMPLE_CLIPS,
    SandboxConfig,
    SandboxServer,
    identify_clips_response,
)
from integrations import storage

SANDBOX_TOKEN = "walkthrough-sandbox-token"
YOUTUBE_URL = "https://www.youtube.com/watch?v=dQw4w9WgXcQ"


@pytest.fixture
def sandbox(settings, s3):
    # Writing to Korai's configured bucket, as `clips_sandbox` does under `make run`.
    server = SandboxServer(SandboxConfig(token=SANDBOX_TOKEN, store=storage.put_object), port=0)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    settings.CLIPS_API_URL = server.base_url + IDENTIFY_PATH
    settings.PROCESS_CLIPS_API_URL = server.base_url + PROCESS_PATH
    settings.CLIPS_API_FALLBACK_URL = ""
    settings.PROCESS_CLIPS_API_FALLBACK_URL = ""
    settings.CLIPS_API_TOKEN = SANDBOX_TOKEN
    yield server
    server.shutdown()
    server.server_close()


def _delivered(fake_inngest, name: str) -> dict:
    """The one event of this name that reached the (fake) Inngest event API, as Inngest got it."""
    events = [event for event in fake_inngest.events if event["name"] == name]
    assert len(events) == 1, fake_inngest.events
    return {key: value for key, value in events[0].items() if key != "event_key"}


def test_walkthrough(live_server, sandbox, fake_inngest, settings, client):
    settings.DEBUG = True  # setup_demo is for local development only
    printed = StringIO()
    call_command("setup_demo", stdout=printed)
    settings.DEBUG = False
    token = Token.objects.get(user__username="demo")
    assert f"Authorization: Token {token.key}" in printed.getvalue()
    api = requests.Session()
    api.headers["Authorization"] = f"Token {token.key}"
    base = live_server.url
    executor = InngestExecutor(base_url=base)

    # 1. Submit, as the README's curl line does.
    submitted = api.post(
        f"{base}/api/videos/",
        json={"youtube_url": YOUTUBE_URL, "prompt": "the funniest moments"},
        timeout=10,
    )
    assert submitted.status_code == 202, submitted.text
    video_id = submitted.json()["id"]
    assert submitted.json()["processing_status"] == "pending"

    # 2. Inngest receives the event and runs identify-clips against the sandbox.
    event = _delivered(fake_inngest, "video/identify.clips")
    assert event["data"]["videoId"] == video_id
    run = executor.run("identify-clips", event)
    assert run.status == "completed", run.error

    # 3. Poll the status; list the clips, best first.
    status = api.get(f"{base}/api/videos/{video_id}/status/", timeout=10).json()
    expected = identify_clips_response(
        youtube_url=YOUTUBE_URL, s3_key_yt=f"youtube-videos/{video_id}/yt"
    )
    assert status["processing_status"] == "completed"
    assert status["total_clips"] == len(expected["identified_clips"])
    clips = api.get(f"{base}/api/videos/{video_id}/clips/", timeout=10).json()
    clips = clips["results"] if isinstance(clips, dict) else clips
    scores = [clip["virality_score"] for clip in clips]
    assert scores == sorted(scores, reverse=True)
    assert sorted(clip["title"] for clip in clips) == sorted(
        clip["title"] for clip in expected["identified_clips"]
    )

    # 4. The admin shows the clips on the video's page.
    client.force_login(token.user)
    page = client.get(f"/admin/videos/video/{video_id}/change/")
    assert page.status_code == 200
    for clip in clips:
        assert clip["title"] in page.content.decode()

    # 5. Export the two best clips; process-clips renders them in the sandbox.
    chosen = clips[:2]
    created = api.post(
        f"{base}/api/videos/{video_id}/exports/",
        json={"clip_ids": [clip["id"] for clip in chosen], "aspect_ratio": "9:16"},
        timeout=10,
    )
    assert created.status_code == 202, created.text
    export_id = created.json()["id"]
    run = executor.run("process-clips", _delivered(fake_inngest, "clips/process"))
    assert run.status == "completed", run.error

    export = api.get(f"{base}/api/exports/{export_id}/", timeout=10).json()
    assert export["status"] == "completed", export
    # In the order they were asked for, each under the export's own key.
    assert [(c["start"], c["end"], c["s3_key"]) for c in export["exported_clips"]] == [
        (clip["start"], clip["end"], f"exports/{export_id}/clip_{n}.mp4")
        for n, clip in enumerate(chosen)
    ]

    # 6. Each rendered clip downloads, a small playable MP4 of its own; the source too.
    downloads = [requests.get(c["download_url"], timeout=10) for c in export["exported_clips"]]
    assert [d.status_code for d in downloads] == [200, 200]
    # In the shape asked for (9:16).
    assert all(d.content.startswith(SAMPLE_CLIPS["9:16"].read_bytes()) for d in downloads)
    assert downloads[0].content != downloads[1].content
    video = api.get(f"{base}/api/videos/{video_id}/", timeout=10).json()
    assert requests.get(video["source_download_url"], timeout=10).status_code == 200
