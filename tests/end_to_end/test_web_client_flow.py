"""Done-when: the web client's whole flow over real HTTP, both ways a client calls Korai.

Through the REST API with a DRF token: submit, poll, list clips, export, poll the export, with
the events Korai sends captured by a fake Inngest event API. The Inngest functions are not run
there (their own tests drive them); the video and the export move on by calling the same
step-side services the function steps call.

As the original client's pages call its routes through the Next.js rewrite (the Clerk `__session`
cookie; the fake Clerk's JWKS fetched over HTTP): submit → list until clips appear → detail →
export → exported list → download URL (fetched from a local S3 server, moto) → delete (the stored
objects too). The events Korai sends reach a fake Inngest event API; each is then run through
the live server's `/api/inngest` by the test-side executor, as Inngest would, against the fake
clips APIs."""

import threading
import time

import pytest
import requests
from django.core.management import call_command
from rest_framework.authtoken.models import Token

from devtools.executor import InngestExecutor
from exports.models import Export
from exports.rendering import export_finish
from jobs.records import job_start
from tests.factories import ExportedClipFactory, UserFactory
from tests.fakes.clerk import APP_ORIGIN
from tests.webclient.pages import (
    CLIP_FIELDS,
    EXPORTED_CLIP_FIELDS,
    VIDEO_FIELDS,
    assert_fields,
)
from videos.models import Video
from videos.services import video_complete

pytestmark = pytest.mark.django_db(transaction=True)
# Read by the fake_clips_api fixture: a render call writes each output to the local S3 server
# before it answers, which on a loaded machine can outlast the default 0.5 s (then retried).
CLIPS_API_READ_TIMEOUT_SECONDS = 10.0

# --- through the REST API, with a token ----------------------------------------------------------

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
    job_start(
        model=Video, job_id=video["id"], run_id="run-1", step="create-video-record", attempt=0
    )
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
    job_start(
        model=Export, job_id=export["id"], run_id="run-2", step="create-export-record", attempt=0
    )
    assert web_client.get(export["url"], timeout=5).json()["status"] == "processing"
    # As the render step leaves them (tests/exports/test_functions.py renders for real).
    rendering = Export.objects.get(pk=export["id"])
    ExportedClipFactory(export=rendering, start=300.0, end=350.5, s3_key="exports/peak.mp4")
    ExportedClipFactory(export=rendering, start=10.0, end=45.0, s3_key="", error="Render timed out")
    export_finish(export_id=export["id"], attempt=0)
    done = web_client.get(export["url"], timeout=5).json()
    assert done["status"] == "partial"
    # In the order of the export's ranges.
    assert [(c["start"], c["s3_key"], c["error"]) for c in done["exported_clips"]] == [
        (300.0, "exports/peak.mp4", None),
        (10.0, None, "Render timed out"),
    ]
    assert done["error"]
    listed = web_client.get(f"{api}/videos/{video['id']}/exports/", timeout=5).json()
    assert [e["id"] for e in listed["results"]] == [export["id"]]
    assert web_client.get(video["status_url"], timeout=5).json()["exported_clips"] == 1

    # Every event was sent exactly once.
    assert sorted(fake_inngest.id_counts().values()) == [1, 1]


# --- as the original client's pages call its routes (/api/clips/) --------------------------------

YOUTUBE_URL = "https://www.youtube.com/watch?v=dQw4w9WgXcQ"


class Browser:
    """The client's pages in a browser: `fetch` with the session cookie, JSON bodies, and the
    `Origin` the browser adds to writes."""

    def __init__(self, base: str, token: str) -> None:
        self.base = base
        self.session = requests.Session()
        self.session.trust_env = False
        self.session.cookies.set("__session", token)

    def get(self, path: str) -> requests.Response:
        return self.session.get(self.base + path, timeout=10)

    def post(self, path: str, body: dict) -> requests.Response:
        return self.session.post(
            self.base + path, json=body, headers={"Origin": APP_ORIGIN}, timeout=10
        )

    def delete(self, path: str) -> requests.Response:
        return self.session.delete(self.base + path, headers={"Origin": APP_ORIGIN}, timeout=10)


def delivered(fake_inngest, name: str) -> dict:
    events = [e for e in fake_inngest.events if e["name"] == name]
    assert len(events) == 1, fake_inngest.events
    return {key: value for key, value in events[0].items() if key != "event_key"}


def test_the_web_clients_whole_flow(live_server, clerk, fake_inngest, fake_clips_api, s3):
    browser = Browser(live_server.url, clerk.session_token("user_flow"))
    executor = InngestExecutor(base_url=live_server.url)

    # dashboard/clips: submit.
    submitted = browser.post("/api/clips/identify", {"youtubeUrl": YOUTUBE_URL, "prompt": ""})
    assert submitted.status_code == 202, submitted.text
    video_id = submitted.json()["videoId"]

    # dashboard/clips/videos: the list shows it as processing...
    (listed,) = browser.get("/api/clips/videos").json()["videos"]
    assert_fields(listed, VIDEO_FIELDS)
    assert (listed["id"], listed["totalClips"], listed["processingStatus"]) == (
        video_id,
        0,
        "pending",
    )

    # ... while Inngest runs identify-clips; the page polls until the clips appear.
    identify = {}
    runner = threading.Thread(
        target=lambda: identify.update(
            run=executor.run("identify-clips", delivered(fake_inngest, "video/identify.clips"))
        )
    )
    runner.start()
    seen = set()
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        (listed,) = browser.get("/api/clips/videos").json()["videos"]
        seen.add((listed["processingStatus"], listed["totalClips"]))
        if listed["totalClips"]:
            break
        time.sleep(0.05)
    runner.join(timeout=30)
    assert identify["run"].status == "completed", identify["run"].error
    assert (listed["processingStatus"], listed["totalClips"]) == ("completed", 3)
    assert {total for status, total in seen if status != "completed"} <= {0}
    assert_fields(listed, VIDEO_FIELDS)
    assert (listed["videoDuration"], listed["detectedLanguage"]) == ("192.5", "en")

    # dashboard/clips/videos/[id]: the clips, best first.
    detail = browser.get(f"/api/clips/videos/{video_id}")
    assert detail.status_code == 200
    video = detail.json()["video"]
    assert_fields(video, VIDEO_FIELDS)
    for clip in video["clips"]:
        assert_fields(clip, CLIP_FIELDS)
    assert [c["title"] for c in video["clips"]] == ["Moment 1", "Moment 2", "Moment 3"]
    assert [(c["start"], c["end"], c["viralityScore"]) for c in video["clips"]] == [
        ("5", "35.5", "10"),
        ("65", "95.5", "9"),
        ("125", "155.5", "8"),
    ]

    # Generate shorts from two selected clips (handleExportClips's body).
    chosen = video["clips"][:2]
    processed = browser.post(
        "/api/clips/process",
        {
            "videoId": video["id"],
            "s3Key": video["s3Key"],
            "selectedClips": [{"start": c["start"], "end": c["end"]} for c in chosen],
            "targetLanguage": None,
            "aspectRatio": "9:16",
        },
    )
    assert processed.status_code == 202, processed.text
    run = executor.run("process-clips", delivered(fake_inngest, "clips/process"))
    assert run.status == "completed", run.error

    # The Exported tab: each exported clip joins its clip by start/end, as the page does.
    exported = browser.get(f"/api/clips/videos/{video_id}/exported")
    assert exported.status_code == 200
    exported_clips = exported.json()["exportedClips"]
    assert len(exported_clips) == 2
    for item in exported_clips:
        assert_fields(item, EXPORTED_CLIP_FIELDS)
        original = next(
            c for c in video["clips"] if c["start"] == item["start"] and c["end"] == item["end"]
        )
        assert original["id"] in {c["id"] for c in chosen}
        assert (item["aspectRatio"], item["targetLanguage"]) == ("9:16", None)

    # Another user's browser sees none of it.
    stranger = Browser(live_server.url, clerk.session_token("user_stranger"))
    assert stranger.get("/api/clips/videos").json() == {"videos": []}
    assert stranger.get(f"/api/clips/videos/{video_id}").status_code == 404
    assert stranger.get(f"/api/clips/videos/{video_id}/exported").status_code == 404

    # Load Video / Download Clip: a presigned URL for the clip's object, fetched.
    signed = browser.post(
        f"/api/clips/videos/{video_id}/download", {"s3Key": exported_clips[0]["s3Key"]}
    )
    assert signed.status_code == 200, signed.text
    fetched = requests.get(signed.json()["url"], timeout=10)
    assert fetched.status_code == 200
    # The export's own copy of what the service rendered for that range.
    assert fetched.content == s3.get(exported_clips[0]["s3Key"])
    assert f"{float(exported_clips[0]['start']):g}-".encode() in fetched.content

    key = exported_clips[0]["s3Key"]
    assert (
        stranger.post(f"/api/clips/videos/{video_id}/download", {"s3Key": key}).status_code == 404
    )

    # Delete from the list page: gone at once; its stored objects (the source, the service's
    # renders, the export's copies) go when Inngest runs the clean-up.
    s3.put(video["s3Key"], b"the source video")
    assert s3.keys()
    deleted = browser.delete(f"/api/clips/videos/{video_id}")
    assert deleted.status_code == 200, deleted.text
    assert deleted.json()["success"] is True
    assert browser.get("/api/clips/videos").json() == {"videos": []}
    assert browser.get(f"/api/clips/videos/{video_id}").status_code == 404
    cleanup = executor.run("delete-video-objects", delivered(fake_inngest, "video/deleted"))
    assert cleanup.status == "completed", cleanup.error
    assert s3.keys() == []
