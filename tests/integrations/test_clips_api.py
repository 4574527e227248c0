"""The external API client: every HTTP outcome is classified as the functions need it."""

from datetime import UTC, datetime, timedelta

import pytest

from integrations import clips_api
from tests.fakes.clips_api import FakeClipsAPI, Reply


def identify(result_url=""):
    return clips_api.identify_clips(
        youtube_url="https://www.youtube.com/watch?v=dQw4w9WgXcQ",
        s3_key="youtube-videos/abc/yt",
        prompt="funny bits",
        result_url=result_url,
    )


def process(*ranges):
    return clips_api.process_clips(
        s3_key="youtube-videos/abc/yt",
        clips=[{"start": s, "end": e} for s, e in ranges or [(5.0, 35.5)]],
        target_language=None,
        aspect_ratio="9:16",
        subtitles=True,
        subtitle_customization={"font_family": "Anton"},
    )


def test_identify_sends_the_contract_body_with_bearer_token(fake_clips_api):
    result = identify()

    call = fake_clips_api.calls[0]
    assert call.body == {
        "youtube_url": "https://www.youtube.com/watch?v=dQw4w9WgXcQ",
        "s3_key_yt": "youtube-videos/abc/yt",
        "prompt": "funny bits",
    }
    assert call.headers["Authorization"] == f"Bearer {fake_clips_api.token}"
    # Numeric strings from the API arrive as numbers.
    assert result["total_clips"] == 3
    assert result["identified_clips"][1]["start"] == 65.0
    assert result["identified_clips"][1]["virality_score"] == 9


def test_process_sends_every_clip_in_one_call_and_returns_the_answer(fake_clips_api):
    assert process((5.0, 35.5), (60, 90)) == [
        {"start": 5.0, "end": 35.5, "s3_key": "youtube-videos/abc/clip_0.mp4"},
        {"start": 60.0, "end": 90.0, "s3_key": "youtube-videos/abc/clip_1.mp4"},
    ]
    [call] = fake_clips_api.calls
    body = call.body
    assert body["clips"] == [{"start": 5.0, "end": 35.5}, {"start": 60, "end": 90}]
    assert body["aspect_ratio"] == "9:16"
    assert body["target_language"] is None
    assert body["subtitles"] is True


@pytest.mark.parametrize("status", [500, 502, 503, 504])
def test_5xx_is_retriable_plain_error(fake_clips_api, status):
    fake_clips_api.queue("identify", Reply(status=status, body={"detail": "boom"}))
    with pytest.raises(clips_api.ClipsApiUnavailable, match=f"answered {status}"):
        identify()


def test_429_without_retry_after_is_retriable(fake_clips_api):
    fake_clips_api.queue("identify", Reply(status=429))
    with pytest.raises(clips_api.ClipsApiUnavailable, match="429"):
        identify()


@pytest.mark.parametrize("status", [429, 503])
def test_retry_after_seconds_raises_retry_after_with_the_delay(fake_clips_api, status):
    fake_clips_api.queue("process", Reply(status=status, headers={"Retry-After": "30"}))
    with pytest.raises(clips_api.ClipsApiRetryAfter) as caught:
        process()
    assert f"answered {status}" in str(caught.value)
    assert timedelta(seconds=28) < caught.value.delay <= timedelta(seconds=30)


def test_retry_after_http_date_is_understood(fake_clips_api):
    date = "Wed, 21 Oct 2099 07:28:00 GMT"
    fake_clips_api.queue("identify", Reply(status=503, headers={"Retry-After": date}))
    with pytest.raises(clips_api.ClipsApiRetryAfter) as caught:
        identify()
    assert datetime.now(UTC) + caught.value.delay > datetime(2099, 10, 21, 7, 27, tzinfo=UTC)


@pytest.mark.parametrize("status", [400, 401, 403, 404, 422])
def test_other_4xx_is_not_retried(fake_clips_api, status):
    fake_clips_api.queue("identify", Reply(status=status, body={"detail": "no such video"}))
    with pytest.raises(clips_api.ClipsApiRefused, match=f"answered {status}.*no such video"):
        identify()


def test_wrong_token_is_a_permanent_failure(fake_clips_api, settings):
    settings.CLIPS_API_TOKEN = "wrong"
    with pytest.raises(clips_api.ClipsApiRefused, match="401"):
        identify()


def test_timeout_is_retriable(fake_clips_api):
    fake_clips_api.queue("identify", Reply(hang=3))
    with pytest.raises(clips_api.ClipsApiUnavailable) as raised:
        identify()
    origin = fake_clips_api.identify_url.rsplit("/", 1)[0]
    assert str(raised.value) == f"identify-clips API did not answer within 0.5s ({origin})"


def test_connection_refused_is_retriable_and_reads_as_words(settings):
    settings.CLIPS_API_URL = "http://127.0.0.1:9/identify-clips?key=secret"
    with pytest.raises(clips_api.ClipsApiUnavailable) as raised:
        identify()
    # Not urllib3's HTTPConnectionPool(host=..., ...) repr: the cause and where, in one line.
    assert str(raised.value) == (
        "identify-clips API unreachable: connection refused (http://127.0.0.1:9)"
    )


def test_an_unknown_host_reads_as_words(settings):
    settings.CLIPS_API_URL = "http://clips.invalid/identify-clips"
    with pytest.raises(clips_api.ClipsApiUnavailable) as raised:
        identify()
    assert str(raised.value) == (
        "identify-clips API unreachable: host name not found (http://clips.invalid:80)"
    )


def test_missing_url_setting_is_permanent(settings):
    settings.PROCESS_CLIPS_API_URL = ""
    with pytest.raises(clips_api.ClipsApiRefused, match="PROCESS_CLIPS_API_URL is not set"):
        process()


def test_fallback_is_tried_when_the_primary_fails(fake_clips_api, settings):
    with FakeClipsAPI(clips=1, token=fake_clips_api.token) as fallback:
        settings.CLIPS_API_FALLBACK_URL = fallback.identify_url
        fake_clips_api.queue("identify", Reply(status=502))

        assert identify()["total_clips"] == 1
        assert fake_clips_api.count("identify") == 1
        assert fallback.count("identify") == 1


def test_fallback_is_not_tried_for_a_permanent_refusal(fake_clips_api, settings):
    with FakeClipsAPI(clips=1, token=fake_clips_api.token) as fallback:
        settings.CLIPS_API_FALLBACK_URL = fallback.identify_url
        fake_clips_api.queue("identify", Reply(status=400))

        with pytest.raises(clips_api.ClipsApiRefused):
            identify()
        assert fallback.count("identify") == 0


def test_both_down_names_both_and_stays_retriable(fake_clips_api, settings):
    settings.PROCESS_CLIPS_API_FALLBACK_URL = "http://127.0.0.1:9/process-clips"
    fake_clips_api.queue("process", Reply(status=500))
    with pytest.raises(
        clips_api.ClipsApiUnavailable, match=r"answered 500.*fallback.*127\.0\.0\.1:9"
    ):
        process()


def test_a_throttled_fallback_hands_on_its_delay(fake_clips_api, settings):
    with FakeClipsAPI(token=fake_clips_api.token) as fallback:
        settings.PROCESS_CLIPS_API_FALLBACK_URL = fallback.process_url
        fake_clips_api.queue("process", Reply(status=500))
        fallback.queue("process", Reply(status=429, headers={"Retry-After": "20"}))
        with pytest.raises(
            clips_api.ClipsApiRetryAfter, match=r"answered 500.*fallback.*429"
        ) as caught:
            process()
    assert timedelta(seconds=18) < caught.value.delay <= timedelta(seconds=20)


@pytest.mark.parametrize(
    ("err", "outcome"),
    [
        (clips_api.ClipsApiUnavailable("down"), "retriable"),
        (clips_api.ClipsApiRetryAfter("later", timedelta(seconds=5)), "retriable"),
        (clips_api.ClipsApiRefused("answered 422"), "refused"),
        (clips_api.ClipsApiMalformed("not JSON"), "malformed"),
    ],
)
def test_each_failure_counts_in_the_call_metric_as_its_kind(err, outcome):
    assert isinstance(err, clips_api.ClipsApiError)
    assert clips_api._outcome(err) == outcome


def test_non_json_answer_is_permanent(fake_clips_api):
    fake_clips_api.queue("identify", Reply(raw=b"<html>oops</html>"))
    with pytest.raises(clips_api.ClipsApiMalformed, match="not JSON"):
        identify()


def test_rendered_for_matches_a_range_within_a_hundredth_of_a_second():
    answer = [{"start": 5.004, "end": 35.5, "s3_key": "a"}, {"start": 60, "end": 90, "s3_key": "b"}]
    assert clips_api.rendered_for(answer, start=5.0, end=35.5)["s3_key"] == "a"
    assert clips_api.rendered_for(answer, start=60.0, end=90.0)["s3_key"] == "b"
    assert clips_api.rendered_for(answer, start=5.0, end=36.0) is None


GOOD_CLIP = {
    "start": 1,
    "end": 2,
    "title": "t",
    "summary": "s",
    "virality_score": 5,
    "related_topics": [],
    "transcript": "x",
}


@pytest.mark.parametrize(
    ("payload", "problem"),
    [
        ([], "not a JSON object but list"),
        ({"total_clips": 1}, "no identified_clips"),
        ({"identified_clips": {"start": 1}}, "identified_clips is not a list but dict"),
        ({"total_clips": 0, "identified_clips": []}, "identified_clips is empty"),
        (
            {"identified_clips": [{**GOOD_CLIP, "end": None}, "clip"]},
            "none of its 2 clips is usable: clip 1: no end; clip 2: not an object but str",
        ),
    ],
)
def test_an_identify_answer_unusable_as_a_whole_is_permanent(payload, problem):
    with pytest.raises(clips_api.ClipsApiMalformed) as caught:
        clips_api.parse_identify_response(payload)
    assert problem in str(caught.value)


def test_one_broken_clip_does_not_spoil_the_answer():
    parsed = clips_api.parse_identify_response(
        {"total_clips": 2, "identified_clips": [{**GOOD_CLIP, "start": 3}, GOOD_CLIP]}
    )
    assert [(c["start"], c["end"]) for c in parsed["identified_clips"]] == [(1.0, 2.0)]
    assert parsed["dropped"] == [{"index": 0, "reason": "starts (3 s) at or after it ends (2 s)"}]


def test_identify_answer_accepts_numeric_strings_and_missing_optionals():
    parsed = clips_api.parse_identify_response(
        {
            "total_clips": "1",
            "video_duration": "100.5",
            "identified_clips": [{**GOOD_CLIP, "start": "1.5", "related_topics": None}],
        }
    )
    assert parsed["total_clips"] == 1
    assert parsed["video_duration"] == 100.5
    assert parsed["detected_language"] == ""
    assert parsed["s3_path"] == ""
    assert parsed["identified_clips"][0]["start"] == 1.5
    assert parsed["identified_clips"][0]["related_topics"] == []


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({}, "processed_clips"),
        ({"processed_clips": [{"start": 1, "end": 2}]}, "processed_clips[0].s3_key"),
        ({"processed_clips": [{"start": 1, "end": 2, "s3_key": ""}]}, "processed_clips[0].s3_key"),
        (
            {"processed_clips": [{"start": "x", "end": 2, "s3_key": "k"}]},
            "processed_clips[0].start",
        ),
    ],
)
def test_malformed_process_answer_names_the_field(payload, field):
    with pytest.raises(clips_api.ClipsApiMalformed) as caught:
        clips_api.parse_process_response(payload)
    assert field in str(caught.value)


# --- 303 redirects: the real service answers a call over 150 s with a result URL ----------------


def test_a_303_is_not_followed_its_result_url_is_waited_on_one_request_at_a_time(fake_clips_api):
    fake_clips_api.queue("identify", Reply(redirects=2))

    first = identify()

    # One request, its result URL handed back for the caller to keep.
    assert isinstance(first, clips_api.StillRunning)
    assert first.result_url.startswith(f"{fake_clips_api.identify_url}?__modal_function_call_id=")
    assert [c.endpoint for c in fake_clips_api.calls] == ["identify"]
    assert identify(result_url=first.result_url) == first  # 303 again, to itself
    result = identify(result_url=first.result_url)

    assert len(result["identified_clips"]) == 3
    calls = [c.endpoint for c in fake_clips_api.calls]
    assert calls == ["identify"] + ["result:identify"] * 2  # one POST, then GETs of the result
    assert all(
        c.headers["Authorization"] == f"Bearer {fake_clips_api.token}" for c in fake_clips_api.calls
    )


def test_a_result_url_on_another_origin_does_not_get_the_token(fake_clips_api):
    with FakeClipsAPI() as elsewhere:
        fake_clips_api.queue(
            "identify",
            Reply(status=303, headers={"Location": f"{elsewhere.url}/identify-clips?x=1"}),
        )
        pending = identify()
        with pytest.raises(clips_api.ClipsApiRefused, match="answered 404"):
            identify(result_url=pending.result_url)  # the other host does not know this call
        assert "Authorization" not in elsewhere.calls[0].headers


def test_one_request_waits_one_redirect_interval_plus_a_margin(fake_clips_api, settings):
    settings.CLIPS_API_READ_TIMEOUT_SECONDS = 900
    settings.CLIPS_API_REDIRECT_INTERVAL_SECONDS = 150
    assert clips_api.request_timeout_seconds() == 180  # not the call's 900 s
    assert clips_api.waits_allowed() == 6  # the 900 s, one interval per wait

    settings.CLIPS_API_REDIRECT_INTERVAL_SECONDS = 0.2
    settings.CLIPS_API_READ_TIMEOUT_SECONDS = 0.4  # below interval + margin: it bounds
    fake_clips_api.queue("identify", Reply(redirects=1, redirect_delay=3))  # a late 303
    with pytest.raises(clips_api.ClipsApiUnavailable, match=r"did not answer within 0.4s"):
        identify()


def test_a_303_without_location_is_refused(fake_clips_api):
    fake_clips_api.queue("process", Reply(status=303))
    with pytest.raises(clips_api.ClipsApiRefused, match="answered 303"):
        process()
