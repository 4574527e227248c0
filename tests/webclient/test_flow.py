"""Done-when: the web client's whole flow over real HTTP, as its pages call the routes through
the Next.js rewrite (the Clerk `__session` cookie; the fake Clerk's JWKS fetched over HTTP):
submit → list until clips appear → detail → export → exported list → download URL (fetched
from a local S3 server, moto) → delete (the stored objects too).

The events Korai sends reach a fake Inngest event API; each is then run through the live
server's `/api/inngest` by the test-side executor, as Inngest would, against the fake clips
APIs."""

import threading
import time

import pytest
import requests

from devtools.executor import InngestExecutor
from tests.fakes.clerk import APP_ORIGIN
from tests.fakes.clips_api import FakeClipsAPI
from tests.webclient.conftest import (
    CLIP_FIELDS,
    EXPORTED_CLIP_FIELDS,
    VIDEO_FIELDS,
    assert_fields,
)

pytestmark = pytest.mark.django_db(transaction=True)
YOUTUBE_URL = "https://www.youtube.com/watch?v=dQw4w9WgXcQ"


@pytest.fixture
def clips_api(settings, s3):
    # Rendered clips are written to the test bucket, as the clips service writes to its bucket.
    with FakeClipsAPI(clips=3, store=s3.put) as api:
        settings.CLIPS_API_URL = api.identify_url
        settings.PROCESS_CLIPS_API_URL = api.process_url
        settings.CLIPS_API_FALLBACK_URL = ""
        settings.PROCESS_CLIPS_API_FALLBACK_URL = ""
        settings.CLIPS_API_TOKEN = api.token
        yield api


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


def test_the_web_clients_whole_flow(live_server, clerk, fake_inngest, clips_api, s3):
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
