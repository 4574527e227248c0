"""Done-when: the web client's whole flow over real HTTP — submit, poll, list clips, export,
poll the export — with the events Korai sends captured by a fake Inngest event API.

The Inngest functions are not run here (their own tests drive them); the video and the export
move on by calling the same step-side services the function steps call."""

import time

import pytest
import requests
from django.core.management import call_command
from rest_framework.authtoken.models import Token

from exports.jobs import export_finish, export_start
from exports.models import Export
from tests.factories import ExportedClipFactory, UserFactory
from videos.jobs import video_complete, video_start

IDENTIFIED = {
    "total_clips": 3,
    "video_duration": 1200.0,
    "detected_language": "en",
    "s3_path": "youtube-videos/x/yt",
    "identified_clips": [
        {
            "start": 10.0,
            "end": 45.0,
            "title": "Hook",
            "summary": "s",
            "virality_score": 7,
            "related_topics": ["a"],
            "transcript": "t",
        },
        {
            "start": 300.0,
            "end": 350.5,
            "title": "Peak",
            "summary": "s",
            "virality_score": 10,
            "related_topics": ["b"],
            "transcript": "t",
        },
        {
            "start": 800.0,
            "end": 830.0,
            "title": "Outro",
            "summary": "s",
            "virality_score": 4,
            "related_topics": [],
            "transcript": "t",
        },
    ],
}


def wait_for(predicate, timeout: float = 5.0):
    """Events are delivered right after the request's transaction commits; give that a moment."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.02)
    raise AssertionError("condition not met in time")


@pytest.fixture
def web_client(transactional_db, live_server, fake_inngest):
    user = UserFactory(username="webclient")
    call_command("drf_create_token", user.username)  # the documented way to get a token
    session = requests.Session()
    session.headers["Authorization"] = f"Token {Token.objects.get(user=user).key}"
    session.base = live_server.url
    session.user = user
    yield session
    session.close()


def test_submit_poll_browse_export_and_poll_the_export(web_client, fake_inngest):
    api = web_client.base + "/api"

    # Submit.
    submitted = web_client.post(
        f"{api}/videos/",
        json={"youtube_url": "https://m.youtube.com/watch?v=dQw4w9WgXcQ&si=x", "prompt": "funny"},
        headers={"Idempotency-Key": "submit-1"},
        timeout=5,
    )
    assert submitted.status_code == 202, submitted.text
    video = submitted.json()
    assert video["processing_status"] == "pending"
    assert video["youtube_url"] == "https://www.youtube.com/watch?v=dQw4w9WgXcQ"

    wait_for(lambda: len(fake_inngest.events) == 1)
    identify = fake_inngest.events[0]
    assert identify["id"] == f"video/identify.clips:{video['id']}:1"
    assert identify["name"] == "video/identify.clips"
    assert identify["data"] == {
        "videoId": video["id"],
        "youtubeUrl": "https://www.youtube.com/watch?v=dQw4w9WgXcQ",
        "prompt": "funny",
        "userId": str(web_client.user.pk),
    }

    # A retried submission (same key) is the same video, and sends nothing new.
    again = web_client.post(
        f"{api}/videos/",
        json={"youtube_url": "https://m.youtube.com/watch?v=dQw4w9WgXcQ&si=x", "prompt": "funny"},
        headers={"Idempotency-Key": "submit-1"},
        timeout=5,
    )
    assert (again.status_code, again.json()["id"]) == (202, video["id"])

    # Poll while the identification runs.
    status = web_client.get(video["status_url"], timeout=5).json()
    assert (status["processing_status"], status["total_clips"]) == ("pending", 0)
    video_start(video_id=video["id"], run_id="run-1", attempt=0)
    assert web_client.get(video["status_url"], timeout=5).json()["processing_status"] == (
        "processing"
    )
    video_complete(video_id=video["id"], identified=IDENTIFIED, attempt=0)
    status = web_client.get(video["status_url"], timeout=5).json()
    assert (status["processing_status"], status["total_clips"], status["exported_clips"]) == (
        "completed",
        3,
        0,
    )

    # Browse the clips, best first.
    clips = web_client.get(f"{api}/videos/{video['id']}/clips/", timeout=5).json()["results"]
    assert [c["title"] for c in clips] == ["Peak", "Hook", "Outro"]
    listed = web_client.get(f"{api}/videos/", timeout=5).json()
    assert [v["id"] for v in listed["results"]] == [video["id"]]

    # Export the two best clips.
    exported = web_client.post(
        f"{api}/videos/{video['id']}/exports/",
        json={
            "clip_ids": [clips[0]["id"], clips[1]["id"]],
            "aspect_ratio": "9:16",
            "target_language": "ja-jp",
            "subtitle_style": {"position": "bottom", "karaoke_highlight_color": "#FFCC00"},
        },
        timeout=5,
    )
    assert exported.status_code == 202, exported.text
    export = exported.json()
    assert export["status"] == "pending"

    wait_for(lambda: len(fake_inngest.events) == 2)
    process = fake_inngest.events[1]
    assert process["id"] == f"clips/process:{export['id']}:1"
    assert process["data"] == {
        "exportId": export["id"],
        "videoId": video["id"],
        "s3Key": video["s3_key"],
        "selectedClips": [{"start": 300.0, "end": 350.5}, {"start": 10.0, "end": 45.0}],
        "targetLanguage": "ja-JP",
        "aspectRatio": "9:16",
        "userId": str(web_client.user.pk),
    }

    # Poll the export while it renders; one clip fails.
    assert web_client.get(export["url"], timeout=5).json()["status"] == "pending"
    export_start(export_id=export["id"], run_id="run-2", attempt=0)
    assert web_client.get(export["url"], timeout=5).json()["status"] == "processing"
    # As the render step leaves them (tests/exports/test_functions.py renders for real).
    rendering = Export.objects.get(pk=export["id"])
    ExportedClipFactory(export=rendering, start=300.0, end=350.5, s3_key="exports/peak.mp4")
    ExportedClipFactory(export=rendering, start=10.0, end=45.0, s3_key="", error="Render timed out")
    export_finish(export_id=export["id"], attempt=0)
    done = web_client.get(export["url"], timeout=5).json()
    assert done["status"] == "partial"
    assert [(c["start"], c["s3_key"], c["error"]) for c in done["exported_clips"]] == [
        (10.0, None, "Render timed out"),
        (300.0, "exports/peak.mp4", None),
    ]
    assert done["error"]
    listed = web_client.get(f"{api}/videos/{video['id']}/exports/", timeout=5).json()
    assert [e["id"] for e in listed["results"]] == [export["id"]]
    assert web_client.get(video["status_url"], timeout=5).json()["exported_clips"] == 1

    # Every event was sent exactly once.
    assert sorted(fake_inngest.id_counts().values()) == [1, 1]
