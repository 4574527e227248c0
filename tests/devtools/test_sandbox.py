"""The clips sandbox honours the contract: the real client (`integrations/clips_api.py`) accepts its
answers, its clips depend only on the URL, and its latency/failure switches and bearer token
behave as documented."""

import json
import os
import re
import struct
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import requests
from django.core.management import CommandError, call_command

from devtools.sandbox import (
    IDENTIFY_PATH,
    PROCESS_PATH,
    RUNS_PATH,
    SAMPLE_CLIPS,
    SandboxConfig,
    SandboxServer,
    identify_clips_response,
)
from exports.subtitles import DEFAULT_SUBTITLE_CUSTOMIZATION
from integrations import clips_api

ROOT = Path(__file__).resolve().parents[2]
TOKEN = "sandbox-test-token"
URL = "https://www.youtube.com/watch?v=dQw4w9WgXcQ"
S3_KEY = "youtube-videos/4f1c0d5e-0000-4000-8000-000000000001/yt"


@pytest.fixture
def start_sandbox(settings):
    """Start a sandbox on a free port and point the real client's settings at it."""
    servers = []

    def start(**config) -> SandboxServer:
        server = SandboxServer(SandboxConfig(token=TOKEN, **config), port=0)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append(server)
        settings.CLIPS_API_URL = server.base_url + IDENTIFY_PATH
        settings.PROCESS_CLIPS_API_URL = server.base_url + PROCESS_PATH
        settings.CLIPS_API_FALLBACK_URL = ""
        settings.PROCESS_CLIPS_API_FALLBACK_URL = ""
        settings.CLIPS_API_TOKEN = TOKEN
        settings.CLIPS_API_READ_TIMEOUT_SECONDS = 10
        return server

    yield start
    for server in servers:
        server.shutdown()
        server.server_close()


def _process(*, start=12.5, end=40.0, **overrides):
    arguments = {
        "s3_key": S3_KEY,
        "clips": [{"start": start, "end": end}],
        "target_language": None,
        "aspect_ratio": "9:16",
        "subtitles": True,
        "subtitle_customization": DEFAULT_SUBTITLE_CUSTOMIZATION,
    } | overrides
    [rendered] = clips_api.process_clips(**arguments)
    return rendered


def test_identify_answer_passes_the_real_client(start_sandbox):
    start_sandbox()
    answer = clips_api.identify_clips(youtube_url=URL, s3_key=S3_KEY, prompt="funny moments")

    clips = answer["identified_clips"]
    assert 3 <= len(clips) <= 8
    assert answer["total_clips"] == len(clips)
    assert answer["s3_path"] == S3_KEY  # the bare key, as the real service sends it
    assert answer["detected_language"]
    # Plausible clips: inside the video, ascending, never overlapping, 15-90 seconds long.
    previous_end = 0.0
    for clip in clips:
        assert previous_end <= clip["start"] < clip["end"] <= answer["video_duration"]
        assert 14 <= clip["end"] - clip["start"] <= 90
        assert clip["title"] and clip["summary"] and clip["transcript"]
        assert clip["virality_score"] in range(11)
        assert clip["related_topics"]
        previous_end = clip["end"]


def test_clips_are_deterministic_per_url(start_sandbox):
    start_sandbox()
    first = clips_api.identify_clips(youtube_url=URL, s3_key=S3_KEY, prompt="")
    again = clips_api.identify_clips(youtube_url=URL, s3_key=S3_KEY, prompt="other prompt")
    other = clips_api.identify_clips(
        youtube_url="https://youtu.be/9bZkp7q19f0", s3_key=S3_KEY, prompt=""
    )

    assert again["identified_clips"] == first["identified_clips"]
    assert other["identified_clips"] != first["identified_clips"]


def test_outputs_are_named_by_position_next_to_the_source_like_the_real_service(start_sandbox):
    start_sandbox()
    rendered = clips_api.process_clips(
        s3_key=S3_KEY,
        clips=[{"start": 60, "end": 90}, {"start": 12.5, "end": 40}],
        target_language=None,
        aspect_ratio="9:16",
        subtitles=True,
        subtitle_customization=DEFAULT_SUBTITLE_CUSTOMIZATION,
    )

    folder = "youtube-videos/4f1c0d5e-0000-4000-8000-000000000001"
    assert rendered == [
        {"start": 60.0, "end": 90.0, "s3_key": f"{folder}/clip_0.mp4"},
        {"start": 12.5, "end": 40.0, "s3_key": f"{folder}/clip_1.mp4"},
    ]
    # Any request about the same video reuses the same keys, whatever its options.
    assert _process(aspect_ratio="1:1")["s3_key"] == f"{folder}/clip_0.mp4"


def test_the_source_and_every_rendered_clip_are_written_to_the_bucket(start_sandbox, s3):
    start_sandbox(store=s3.put)
    clips_api.identify_clips(youtube_url=URL, s3_key=S3_KEY, prompt="")
    rendered = clips_api.process_clips(
        s3_key=S3_KEY,
        clips=[{"start": 0, "end": 30}, {"start": 60, "end": 90}],
        target_language=None,
        aspect_ratio="9:16",
        subtitles=True,
        subtitle_customization=DEFAULT_SUBTITLE_CUSTOMIZATION,
    )

    folder = "youtube-videos/4f1c0d5e-0000-4000-8000-000000000001/"
    assert s3.keys() == [f"{folder}clip_0.mp4", f"{folder}clip_1.mp4", S3_KEY]
    first, second = (s3.get(clip["s3_key"]) for clip in rendered)
    assert first != second  # bytes of their own...
    sample = SAMPLE_CLIPS["9:16"].read_bytes()
    assert first.startswith(sample) and second.startswith(sample)  # ...and a playable MP4
    assert sample[4:8] == b"ftyp"
    assert b"0-30s" in first and b"60-90s" in second
    # Rendering again writes new bytes to the same keys, as the real service does.
    _process(start=0, end=30)
    assert s3.get(rendered[0]["s3_key"]) != first


def test_process_accepts_several_clips_and_numeric_strings(start_sandbox):
    server = start_sandbox()
    response = requests.post(
        server.base_url + PROCESS_PATH,
        json={
            "s3_key": S3_KEY,
            "clips": [{"start": "0", "end": "30.5"}, {"start": 60, "end": 90}],
            "prompt": "",
            "target_language": None,
            "aspect_ratio": "16:9",
            "subtitles": False,
            "subtitle_customization": DEFAULT_SUBTITLE_CUSTOMIZATION,
        },
        headers={"Authorization": f"Bearer {TOKEN}"},
        timeout=5,
    )

    assert response.status_code == 200
    parsed = clips_api.parse_process_response(response.json())
    assert [(c["start"], c["end"]) for c in parsed["processed_clips"]] == [(0, 30.5), (60, 90)]


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"s3_key_yt": S3_KEY, "prompt": ""}, "youtube_url"),
        ({"youtube_url": URL, "prompt": ""}, "s3_key_yt"),
    ],
)
def test_identify_refuses_a_malformed_request(start_sandbox, body, message):
    server = start_sandbox()
    response = requests.post(
        server.base_url + IDENTIFY_PATH,
        json=body,
        headers={"Authorization": f"Bearer {TOKEN}"},
        timeout=5,
    )

    assert response.status_code == 400
    assert message in response.json()["detail"]


@pytest.mark.parametrize(
    ("raw", "message"),
    [(b"{not json", "not valid JSON"), (b"[1, 2]", "JSON object")],
)
def test_refuses_a_body_that_is_not_a_json_object(start_sandbox, raw, message):
    server = start_sandbox()
    response = requests.post(
        server.base_url + IDENTIFY_PATH,
        data=raw,
        headers={"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"},
        timeout=5,
    )

    assert response.status_code == 400
    assert message in response.json()["detail"]


def test_unknown_fields_and_a_null_prompt_are_accepted(start_sandbox):
    server = start_sandbox()
    response = requests.post(
        server.base_url + IDENTIFY_PATH,
        json={"youtube_url": URL, "s3_key_yt": S3_KEY, "prompt": None, "callback": "x"},
        headers={"Authorization": f"Bearer {TOKEN}"},
        timeout=5,
    )

    assert response.status_code == 200
    assert clips_api.parse_identify_response(response.json())["total_clips"] >= 3


def test_process_refuses_a_bad_range_and_aspect_ratio(start_sandbox):
    start_sandbox()
    with pytest.raises(clips_api.ClipsApiRefused, match="400"):
        _process(start=50, end=40)
    with pytest.raises(clips_api.ClipsApiRefused, match="aspect_ratio"):
        _process(aspect_ratio="4:3")


def test_bearer_token_is_required(start_sandbox, settings):
    server = start_sandbox()
    settings.CLIPS_API_TOKEN = "wrong-token"
    with pytest.raises(clips_api.ClipsApiRefused, match="401"):
        clips_api.identify_clips(youtube_url=URL, s3_key=S3_KEY, prompt="")

    # The client leaves the header out when no token is configured: still refused.
    settings.CLIPS_API_TOKEN = ""
    with pytest.raises(clips_api.ClipsApiRefused, match="401"):
        _process()
    no_header = requests.post(server.base_url + IDENTIFY_PATH, json={}, timeout=5)
    assert no_header.status_code == 401


@pytest.mark.parametrize(
    ("kind", "raised"),
    [
        ("server-error", clips_api.ClipsApiUnavailable),
        ("throttle", clips_api.ClipsApiRetryAfter),
        ("malformed", clips_api.ClipsApiMalformed),
    ],
)
def test_failure_kinds_are_classified_by_the_client(start_sandbox, kind, raised):
    start_sandbox(failure_rate=1.0, failure_kind=kind)
    with pytest.raises(raised):
        clips_api.identify_clips(youtube_url=URL, s3_key=S3_KEY, prompt="")
    with pytest.raises(raised):
        _process()


def _outcomes(server: SandboxServer, count: int) -> list[int]:
    return [
        requests.post(
            server.base_url + IDENTIFY_PATH,
            json={"youtube_url": URL, "s3_key_yt": S3_KEY, "prompt": ""},
            headers={"Authorization": f"Bearer {TOKEN}"},
            timeout=5,
        ).status_code
        for _ in range(count)
    ]


def test_failure_rate_with_a_seed_repeats_the_same_failures(start_sandbox):
    first = _outcomes(start_sandbox(failure_rate=0.5, seed=7), 40)
    second = _outcomes(start_sandbox(failure_rate=0.5, seed=7), 40)

    assert set(first) == {200, 500}
    assert 8 <= first.count(500) <= 32  # about half
    assert second == first


def test_latency_delays_every_answer(start_sandbox):
    start_sandbox(latency=0.3)
    began = time.monotonic()
    clips_api.identify_clips(youtube_url=URL, s3_key=S3_KEY, prompt="")
    _process()

    assert time.monotonic() - began >= 0.6


@pytest.mark.parametrize(
    "config",
    [
        {"token": ""},
        {"token": TOKEN, "failure_rate": 1.5},
        {"token": TOKEN, "latency": -1},
        {"token": TOKEN, "failure_kind": "explode"},
    ],
)
def test_config_refuses_bad_switches(config):
    with pytest.raises(ValueError):
        SandboxConfig(**config)


def test_command_refuses_bad_switches_and_a_taken_port(start_sandbox):
    with pytest.raises(CommandError, match="failure rate"):
        call_command("clips_sandbox", "--token", TOKEN, "--failure-rate", "2")
    with pytest.raises(CommandError, match="bearer token"):
        call_command("clips_sandbox", "--token", "")
    taken = start_sandbox().server_address[1]
    with pytest.raises(CommandError, match="another clips_sandbox"):
        call_command("clips_sandbox", "--token", TOKEN, "--port", str(taken))


def test_command_serves_the_same_clips_from_another_process(settings):
    """`manage.py clips_sandbox` as a developer runs it: a separate process whose clips match
    this process's, so determinism does not hang on Python's per-process hash seed."""
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "tests.settings", "PYTHONHASHSEED": "random"}
    process = subprocess.Popen(
        [sys.executable, "manage.py", "clips_sandbox", "--port", "0", "--token", TOKEN],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        line = process.stdout.readline()
        match = re.search(r"listening on (http://127\.0\.0\.1:\d+)", line)
        assert match, line
        base = match.group(1)
        settings.CLIPS_API_URL = base + IDENTIFY_PATH
        settings.CLIPS_API_FALLBACK_URL = ""
        settings.CLIPS_API_TOKEN = TOKEN

        # By default a call takes 3 s: one 303 after the 2 s hold, then the result.
        answer = clips_api.identify_clips(youtube_url=URL, s3_key=S3_KEY, prompt="")
        assert isinstance(answer, clips_api.StillRunning)
        answer = clips_api.identify_clips(
            youtube_url=URL, s3_key=S3_KEY, prompt="", result_url=answer.result_url
        )
        expected = clips_api.parse_identify_response(
            json.loads(json.dumps(identify_clips_response(youtube_url=URL, s3_key_yt=S3_KEY)))
        )
        assert answer == expected
        assert requests.get(base + "/healthz", timeout=5).json() == {"status": "ok"}
    finally:
        process.terminate()
        process.wait(timeout=10)


def test_messy_answers_are_what_the_real_service_passes_on_from_its_llm(start_sandbox):
    start_sandbox(messy=True)
    raw = identify_clips_response(youtube_url=URL, s3_key_yt=S3_KEY, messy=True)
    tidy = identify_clips_response(youtube_url=URL, s3_key_yt=S3_KEY)

    answer = clips_api.identify_clips(youtube_url=URL, s3_key=S3_KEY, prompt="")

    assert raw["total_clips"] == len(raw["identified_clips"]) == tidy["total_clips"] + 4
    first = raw["identified_clips"][0]
    assert re.fullmatch(r"\d\d:\d\d\.\d\d", first["start"])  # "MM:SS.ss"
    assert re.fullmatch(r"\d\d:\d\d:\d\d\.\d\d", raw["identified_clips"][1]["start"])
    assert isinstance(raw["identified_clips"][2]["related_topics"], str)
    # The client keeps exactly the good clips and names the four broken ones.
    assert [(c["start"], c["end"]) for c in answer["identified_clips"]] == [
        (c["start"], c["end"]) for c in tidy["identified_clips"]
    ]
    reasons = [d["reason"] for d in answer["dropped"]]
    assert reasons[0] == "no end"
    assert reasons[1].startswith("starts (") and "at or after it ends" in reasons[1]
    assert reasons[2].startswith("repeats clip 1 ")
    assert reasons[3] == "start 'right after the intro' is not a time"


def test_a_slow_call_is_answered_303_then_its_result_and_only_a_post_starts_a_run(start_sandbox):
    server = start_sandbox(latency=0.9, hold=0.25)
    base = server.base_url
    auth = {"Authorization": f"Bearer {TOKEN}"}

    def runs():
        return requests.get(base + RUNS_PATH, timeout=5).json()

    assert runs() == {IDENTIFY_PATH: 0, PROCESS_PATH: 0}
    started = time.monotonic()
    first = requests.post(
        base + IDENTIFY_PATH,
        json={"youtube_url": URL, "s3_key_yt": S3_KEY},
        headers=auth,
        allow_redirects=False,
        timeout=5,
    )
    # Held for the hold, then 303 to a result URL, as Modal does after 150 s.
    assert first.status_code == 303
    assert 0.2 <= time.monotonic() - started < 0.8
    assert "?__modal_function_call_id=fc-" in first.headers["Location"]
    assert runs() == {IDENTIFY_PATH: 1, PROCESS_PATH: 0}
    result_url = base + first.headers["Location"]
    # The result URL needs the token; it redirects to itself until the result is ready.
    assert requests.get(result_url, timeout=5).status_code == 401
    statuses = []
    while not statuses or statuses[-1] == 303:
        answer = requests.get(result_url, headers=auth, allow_redirects=False, timeout=5)
        statuses.append(answer.status_code)
        if answer.status_code == 303:
            assert base + answer.headers["Location"] == result_url
    assert statuses[-1] == 200 and 303 in statuses
    assert answer.json() == identify_clips_response(youtube_url=URL, s3_key_yt=S3_KEY)
    # Reloading it gives the same answer and starts nothing.
    again = requests.get(result_url, headers=auth, timeout=5)
    assert again.json() == answer.json()
    assert runs() == {IDENTIFY_PATH: 1, PROCESS_PATH: 0}
    # The real client sends one request, and gets the result URL of a run of its own.
    pending = clips_api.identify_clips(youtube_url=URL, s3_key=S3_KEY, prompt="")
    assert isinstance(pending, clips_api.StillRunning)
    assert pending.result_url != result_url
    assert runs() == {IDENTIFY_PATH: 2, PROCESS_PATH: 0}
    while isinstance(pending, clips_api.StillRunning):
        pending = clips_api.identify_clips(
            youtube_url=URL, s3_key=S3_KEY, prompt="", result_url=pending.result_url
        )
    assert pending["identified_clips"]
    assert runs() == {IDENTIFY_PATH: 2, PROCESS_PATH: 0}


def mp4_size(data: bytes) -> tuple[int, int]:
    """The video track's width and height, read from its `tkhd` box (16.16 fixed point)."""

    def boxes(start: int, end: int):
        while start + 8 <= end:
            size, kind = struct.unpack(">I4s", data[start : start + 8])
            if size < 8:
                return
            yield kind, start + 8, start + size
            start += size

    for kind, start, end in boxes(0, len(data)):
        if kind == b"moov":
            for track, t_start, t_end in boxes(start, end):
                if track == b"trak":
                    for header, _, h_end in boxes(t_start, t_end):
                        if header == b"tkhd":
                            width, height = struct.unpack(">II", data[h_end - 8 : h_end])
                            return width >> 16, height >> 16
    raise AssertionError("no video track")


def test_rendered_clips_have_the_shape_of_the_aspect_ratio_asked_for(start_sandbox, s3):
    server = start_sandbox(store=s3.put)
    sizes = {}
    for ratio in ("9:16", "1:1", "16:9"):
        rendered = _process(aspect_ratio=ratio)
        sizes[ratio] = mp4_size(s3.get(rendered["s3_key"]))
    assert sizes == {"9:16": (144, 256), "1:1": (192, 192), "16:9": (256, 144)}
    assert requests.get(server.base_url + RUNS_PATH, timeout=5).json()[PROCESS_PATH] == 3
