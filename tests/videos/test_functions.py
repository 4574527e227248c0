"""identify-clips end to end: the live server's /api/inngest driven over HTTP like Inngest (and
once in-process, with the SDK's mocked harness)."""

import json

import inngest
import pytest
from inngest.experimental import mocked

from clips.models import Clip
from devtools.executor import InngestExecutor
from integrations import clips_api
from operations.functions import reconcile_now
from tests.factories import VideoFactory
from tests.fakes.clips_api import Reply
from tests.videos.test_identify_steps import answer
from videos import functions
from videos.functions import identify_clips
from videos.models import IdentifyAnswer, Video
from videos.services import identify_answer_store, identify_event, video_cancel, video_id_for_event

STEPS = ["create-video-record", "call-identify-clips-api", "save-clips-to-database"]


@pytest.fixture
def video(user):
    return VideoFactory(owner=user, prompt="the funny parts")


def event_for(video):
    return identify_event(video)  # as the outbox sends it


def test_happy_path(executor, fake_clips_api, video):
    run = executor.run("identify-clips", event_for(video))

    assert run.status == "completed"
    assert run.output == {"videoId": str(video.id), "s3Key": video.s3_key, "totalClips": 3}
    assert list(run.step_attempts) == STEPS
    video.refresh_from_db()
    assert video.status == Video.Status.COMPLETED
    assert (video.total_clips, video.duration_seconds, video.detected_language) == (3, 192.5, "en")
    assert video.s3_path == video.s3_key  # the bare key, as the service sends it
    assert video.inngest_run_id == run.run_id
    assert video.attempts == 1
    assert video.started_at <= video.finished_at
    assert [e["step"] for e in video.timeline] == ["create-video-record", STEPS[2]]
    clips = list(video.clips.order_by("start"))
    assert [(c.start, c.end, c.virality_score) for c in clips] == [
        (5.0, 35.5, 10),
        (65.0, 95.5, 9),
        (125.0, 155.5, 8),
    ]
    assert fake_clips_api.calls[0].body["s3_key_yt"] == f"youtube-videos/{video.id}/yt"
    assert fake_clips_api.calls[0].body["prompt"] == "the funny parts"


def test_seed_event_shape_creates_the_video_once(executor, fake_clips_api, user):
    event = {
        "id": "01JSEEDSHAPEEVENT",
        "name": "video/identify.clips",
        "data": {
            "youtubeUrl": "https://youtu.be/dQw4w9WgXcQ",
            "prompt": "",
            "userId": str(user.pk),
        },
    }
    first = executor.run("identify-clips", event)
    second = executor.run("identify-clips", event)  # the same event delivered again

    video = Video.objects.get()
    assert video.id == video_id_for_event("01JSEEDSHAPEEVENT")
    assert (video.owner, video.youtube_id) == (user, "dQw4w9WgXcQ")
    assert first.output["videoId"] == second.output["videoId"] == str(video.id)
    assert video.clips.count() == 3
    # The second run found the video completed and did not pay for identification again.
    assert fake_clips_api.count("identify") == 1


def test_seed_event_for_unknown_user_fails_without_retrying(executor, fake_clips_api):
    event = {
        "name": "video/identify.clips",
        "data": {"youtubeUrl": "https://youtu.be/dQw4w9WgXcQ", "userId": "999"},
    }
    run = executor.run("identify-clips", event)

    assert run.status == "failed"
    assert "user '999' does not exist" in run.error["message"]
    assert run.requests == 1
    assert not Video.objects.exists()


def test_every_step_delivered_twice_writes_one_set(live_server, fake_clips_api, video):
    from devtools.executor import InngestExecutor

    run = InngestExecutor(base_url=live_server.url, redeliver=True).run(
        "identify-clips", event_for(video)
    )

    assert run.status == "completed"
    # Each step body really ran twice, but the second call step found this run's answer kept
    # and paid for no second identification ...
    assert fake_clips_api.count("identify") == 1
    steps_run = [e["step"] for e in Video.objects.get(pk=video.pk).timeline]
    # The second save found the answer saved (and forgotten) and the video completed.
    assert steps_run == [STEPS[0], STEPS[0], STEPS[2]]
    assert not IdentifyAnswer.objects.exists()
    # ... and left one set of clips.
    assert Clip.objects.filter(video=video).count() == 3
    video.refresh_from_db()
    assert video.attempts == 1  # one run, however often its steps were delivered


def test_transient_failures_then_success(executor, fake_clips_api, video):
    fake_clips_api.queue("identify", Reply(status=502, body={"detail": "gpu busy"}), times=2)
    fake_clips_api.queue("identify", Reply(hang=3))  # read timeout (0.5 s)

    run = executor.run("identify-clips", event_for(video))

    assert run.status == "completed"
    assert run.step_attempts["call-identify-clips-api"] == 4
    assert fake_clips_api.count("identify") == 4
    video.refresh_from_db()
    assert video.status == Video.Status.COMPLETED
    assert video.last_error == ""
    failed_attempts = [e for e in video.timeline if e["detail"].startswith("failed")]
    assert [e["attempt"] for e in failed_attempts] == [0, 1, 2]
    assert "answered 502" in failed_attempts[0]["detail"]
    assert "did not answer within" in failed_attempts[2]["detail"]


def test_retries_exhausted_marks_the_video_failed(executor, fake_clips_api, video, settings):
    fake_clips_api.queue("identify", Reply(status=500, body={"detail": "down"}), times=10)

    run = executor.run("identify-clips", event_for(video))

    assert run.status == "failed"
    assert fake_clips_api.count("identify") == settings.INNGEST_RETRIES + 1
    video.refresh_from_db()
    assert video.status == Video.Status.FAILED
    assert "identify-clips API" in video.last_error and "answered 500" in video.last_error
    assert video.finished_at is not None
    assert video.timeline[-1]["step"] == "on-failure"
    assert not video.clips.exists()


def test_permanent_4xx_fails_at_once(executor, fake_clips_api, video):
    fake_clips_api.queue("identify", Reply(status=422, body={"detail": "video is private"}))

    run = executor.run("identify-clips", event_for(video))

    assert run.status == "failed"
    assert fake_clips_api.count("identify") == 1
    video.refresh_from_db()
    assert video.status == Video.Status.FAILED
    assert "answered 422" in video.last_error and "video is private" in video.last_error
    assert video.finished_at is not None


def test_an_answer_unusable_as_a_whole_fails_at_once_and_writes_nothing(
    executor, fake_clips_api, video
):
    answer = fake_clips_api.identify_answer({})
    for clip in answer["identified_clips"]:
        clip["end"] = "later"
    fake_clips_api.queue("identify", Reply(body=answer))

    run = executor.run("identify-clips", event_for(video))

    assert run.status == "failed"
    assert fake_clips_api.count("identify") == 1  # not retried
    video.refresh_from_db()
    assert video.status == Video.Status.FAILED
    assert "none of its 3 clips is usable: clip 1: end 'later' is not a time" in video.last_error
    assert not video.clips.exists()
    assert video.total_clips == 0
    assert not IdentifyAnswer.objects.exists()


def test_rate_limited_run_waits_and_resumes(executor, fake_clips_api, video):
    fake_clips_api.queue("identify", Reply(status=429, headers={"Retry-After": "7"}))

    run = executor.run("identify-clips", event_for(video))

    assert run.status == "completed"
    assert len(run.retry_after) == 1  # Inngest was told when to come back
    assert fake_clips_api.count("identify") == 2


def test_completed_video_is_not_identified_again(executor, fake_clips_api, video):
    executor.run("identify-clips", event_for(video))
    again = executor.run("identify-clips", event_for(video))

    assert again.output["totalClips"] == 3
    assert list(again.step_attempts) == ["create-video-record"]
    assert fake_clips_api.count("identify") == 1


def test_video_deleted_before_saving_fails_at_once(executor, fake_clips_api, video, monkeypatch):
    save = functions.video_complete_from_answer

    calls = []

    def delete_then_save(**kwargs):
        calls.append(kwargs["attempt"])
        Video.objects.filter(pk=kwargs["video_id"]).delete()
        return save(**kwargs)

    monkeypatch.setattr(functions, "video_complete_from_answer", delete_then_save)

    run = executor.run("identify-clips", event_for(video))

    assert run.status == "failed"
    assert calls == [0]  # not retried
    assert run.error["message"].startswith("save-clips-to-database: video ")
    assert "does not exist" in run.error["message"]


# --- The real service's answers: raw LLM output, megabytes of transcripts, 303 redirects -------


def test_broken_clips_are_dropped_and_named_on_the_timeline(executor, fake_clips_api, video):
    fake_clips_api.clips, fake_clips_api.messy = 5, True  # 5 good clips, then 4 broken ones

    run = executor.run("identify-clips", event_for(video))

    assert run.status == "completed"
    assert run.output["totalClips"] == 5
    assert fake_clips_api.count("identify") == 1  # nothing retried
    video.refresh_from_db()
    assert video.status == Video.Status.COMPLETED
    assert video.total_clips == video.clips.count() == 5
    assert sorted(video.clips.values_list("start", flat=True)) == [5.0, 65.0, 125.0, 185.0, 245.0]
    (note,) = [e["detail"] for e in video.timeline if e["detail"].startswith("dropped")]
    assert note == (
        "dropped 4 of the answer's 9 clips: clip 6: no end; "
        "clip 7: starts (95.5 s) at or after it ends (65 s); clip 8: repeats clip 1 (5-35.5 s); "
        "clip 9: start 'right after the intro' is not a time"
    )
    assert not IdentifyAnswer.objects.exists()  # forgotten once saved


def test_a_video_duration_of_0_is_unknown(executor, fake_clips_api, video):
    answer = fake_clips_api.identify_answer({"s3_key_yt": video.s3_key})
    fake_clips_api.queue("identify", Reply(body={**answer, "video_duration": 0}))

    executor.run("identify-clips", event_for(video))

    video.refresh_from_db()
    assert video.status == Video.Status.COMPLETED
    assert video.duration_seconds is None


def test_a_5_mb_answer_completes_with_small_step_state(executor, fake_clips_api, video):
    fake_clips_api.clips = 100
    answer = fake_clips_api.identify_answer({"s3_key_yt": video.s3_key})
    for i, clip in enumerate(answer["identified_clips"]):
        clip["transcript"] = f"Sentence {i} of a long talk, spoken slowly. " * 1200
    raw_size = len(json.dumps(answer).encode())
    assert raw_size > 5_000_000
    fake_clips_api.queue("identify", Reply(body=answer))

    run = executor.run("identify-clips", event_for(video))

    assert run.status == "completed"
    video.refresh_from_db()
    assert video.status == Video.Status.COMPLETED
    assert video.clips.count() == 100
    assert len(video.clips.get(start=5.0).transcript) == len(
        answer["identified_clips"][0]["transcript"]
    )
    # No step hands the answer on: each step's output, and every request Inngest would send
    # back to /api/inngest, stays a few KB.
    assert max(len(json.dumps(memo)) for memo in run.steps.values()) < 1_000
    assert executor.largest_body_bytes < 4_000, executor.largest_body_bytes
    print(f"answer {raw_size} bytes; largest /api/inngest request {executor.largest_body_bytes}")


def test_a_chain_of_303s_is_waited_on_one_step_per_redirect(executor, fake_clips_api, video):
    fake_clips_api.queue("identify", Reply(redirects=3))

    run = executor.run("identify-clips", event_for(video))

    assert run.status == "completed"
    waits = [f"wait-for-identify-clips-api-{n}" for n in (1, 2, 3)]
    assert list(run.step_attempts) == [STEPS[0], STEPS[1], *waits, STEPS[2]]
    assert set(run.step_attempts.values()) == {1}  # waited on, not retried
    assert [c.endpoint for c in fake_clips_api.calls] == ["identify"] + ["result:identify"] * 3
    video.refresh_from_db()
    assert video.status == Video.Status.COMPLETED
    assert video.clips.count() == 3
    assert (video.pending_call_url, video.pending_call_run_id) == ("", "")  # the result is in


def test_a_step_cut_right_after_the_303_resumes_the_call_and_posts_once(
    live_server, proxy, fake_clips_api, video
):
    """The worker "dies" after the service answered 303: Django ran the POST step, but its
    answer never reached Inngest, which retries the step. The retry finds the result URL the
    step kept and waits on it: one GPU run."""
    fake_clips_api.queue("identify", Reply(redirects=2))
    proxy.forward()  # create-video-record
    proxy.cut()  # call-identify-clips-api: its answer is lost

    run = InngestExecutor(base_url=proxy.url).run("identify-clips", event_for(video))

    assert run.status == "completed"
    assert fake_clips_api.count("identify") == 1
    assert [c.endpoint for c in fake_clips_api.calls] == ["identify"] + ["result:identify"] * 2
    video.refresh_from_db()
    assert (video.status, video.clips.count()) == (Video.Status.COMPLETED, 3)


def long_call(settings, fake_clips_api, *, interval=1.0, seconds=4):
    """A call of `seconds` s answered 303 every `interval` s, as Modal does every 150 s."""
    settings.CLIPS_API_REDIRECT_INTERVAL_SECONDS = interval
    settings.CLIPS_API_READ_TIMEOUT_SECONDS = 10.0  # the whole call may take 10 s
    fake_clips_api.queue("identify", Reply(redirects=seconds, redirect_delay=interval))


def test_an_idle_timeout_shorter_than_the_call_costs_no_second_post(
    live_server, fake_clips_api, video, settings
):
    """Inngest (or a proxy before Korai) gives up a request after 2.5 s; the call lasts 4 s. No
    step waits longer than one interval (1 s), so none is cut and the call is posted once."""
    long_call(settings, fake_clips_api)
    executor = InngestExecutor(base_url=live_server.url, timeout=(5, 2.5))

    run = executor.run("identify-clips", event_for(video))

    assert run.status == "completed", run.error
    assert fake_clips_api.count("identify") == 1
    assert None not in run.responses  # no request was cut
    video.refresh_from_db()
    assert (video.status, video.clips.count()) == (Video.Status.COMPLETED, 3)


def test_no_request_outlasts_one_redirect_interval_during_a_long_call(
    live_server, fake_clips_api, video, settings
):
    long_call(settings, fake_clips_api, interval=1.0, seconds=4)
    executor = InngestExecutor(base_url=live_server.url)
    durations = executor.request_seconds

    run = executor.run("identify-clips", event_for(video))

    assert run.status == "completed"
    assert sum(durations) >= 4  # the call really took its 4 s ...
    longest = max(durations)
    # ... but no request held more than one interval (plus scheduling slack), far under the
    # interval + margin a proxy must allow.
    assert longest < 1.0 + 0.6, durations
    assert longest <= 1.0 + clips_api.REQUEST_MARGIN_SECONDS
    assert fake_clips_api.count("identify") == 1
    print(f"longest /api/inngest request {longest:.2f} s of {sum(durations):.2f} s")


def test_a_call_still_running_after_every_wait_is_given_up_not_posted_again(
    executor, fake_clips_api, video, settings
):
    # 0.5 s / 0.1 s: 5 waits; the call answers 303 for longer.
    fake_clips_api.queue("identify", Reply(redirects=50))

    run = executor.run("identify-clips", event_for(video))

    assert run.status == "failed"
    assert "had no result after 5 waits" in run.error["message"]
    assert fake_clips_api.count("identify") == 1
    video.refresh_from_db()
    assert video.status == Video.Status.FAILED
    assert video.pending_call_url == ""  # the job ended: nothing to resume


@pytest.mark.django_db
def test_identify_clips_with_the_sdk_mocked_harness(settings):
    """The function's logic in-process (the HTTP tests cover what this harness hides)."""
    # The harness's run id is "test": the video as its create step leaves it.
    video = VideoFactory(status=Video.Status.PROCESSING, inngest_run_id="test")
    # What the API step does besides calling the API: keep the answer for the saving step.
    fetched = identify_answer_store(video_id=str(video.id), run_id="test", answer=answer((10, 20)))
    result = mocked.trigger(
        identify_clips,
        inngest.Event(
            name="video/identify.clips",
            data={"videoId": str(video.id), "youtubeUrl": video.youtube_url, "userId": "1"},
        ),
        mocked.Inngest(app_id="korai-app"),
        step_stubs={"call-identify-clips-api": fetched},
    )

    assert result.status is mocked.Status.COMPLETED
    assert result.output == {"videoId": str(video.id), "s3Key": video.s3_key, "totalClips": 1}
    assert list(video.clips.values_list("start", "end")) == [(10, 20)]


# --- What a run that did not save its answer leaves behind: nothing -----------------------------


def test_a_cancel_before_the_save_deletes_the_kept_answer(
    executor, fake_clips_api, video, monkeypatch
):
    save = functions.video_complete_from_answer

    def cancel_then_save(**kwargs):
        assert IdentifyAnswer.objects.filter(video_id=kwargs["video_id"]).exists()
        video_cancel(video=Video.objects.get(pk=kwargs["video_id"]))  # the API's cancel
        return save(**kwargs)

    monkeypatch.setattr(functions, "video_complete_from_answer", cancel_then_save)

    run = executor.run("identify-clips", event_for(video))

    assert run.status == "completed"  # stopped, not failed: nothing to look into
    assert fake_clips_api.count("identify") == 1
    assert Video.objects.get(pk=video.pk).status == Video.Status.CANCELLED
    assert not IdentifyAnswer.objects.exists()
    assert not Clip.objects.exists()


def test_a_run_failing_before_the_save_leaves_no_answer(
    executor, fake_clips_api, video, monkeypatch, settings
):
    def database_down(**kwargs):
        raise RuntimeError("database unavailable")

    monkeypatch.setattr(functions, "video_complete_from_answer", database_down)

    run = executor.run("identify-clips", event_for(video))

    assert run.status == "failed"
    assert run.step_attempts["save-clips-to-database"] == settings.INNGEST_RETRIES + 1
    assert Video.objects.get(pk=video.pk).status == Video.Status.FAILED
    # identify-clips-failed marked it failed, then deleted the answer no run will save.
    assert not IdentifyAnswer.objects.exists()


def test_reconciliation_deletes_answers_no_run_will_save(db):
    saving = VideoFactory(status=Video.Status.PROCESSING, inngest_run_id="run-2")
    IdentifyAnswer.objects.create(video=saving, inngest_run_id="run-2", answer={})
    replaced = VideoFactory(status=Video.Status.PROCESSING, inngest_run_id="run-3")
    IdentifyAnswer.objects.create(video=replaced, inngest_run_id="run-1", answer={})
    failed = VideoFactory(status=Video.Status.FAILED, inngest_run_id="run-1")
    IdentifyAnswer.objects.create(video=failed, inngest_run_id="run-1", answer={})

    assert reconcile_now()["answersDeleted"] == 2

    assert list(IdentifyAnswer.objects.values_list("video_id", flat=True)) == [saving.pk]
