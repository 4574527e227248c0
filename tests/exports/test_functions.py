"""process-clips end to end: the live server's /api/inngest driven over HTTP like Inngest, the
fake processing API naming outputs by position as the real one does, and a real S3 HTTP API
(moto server) holding the rendered clips."""

import posixpath
import threading

import pytest
import requests
from rest_framework.test import APIClient

from devtools.executor import InngestExecutor, Run, StepConcurrency
from exports import functions
from exports.models import Export, ExportedClip, RenderLease
from exports.services import export_cancel, process_event
from exports.subtitles import DEFAULT_SUBTITLE_CUSTOMIZATION
from integrations import storage
from tests.factories import ClipFactory, ExportFactory, VideoFactory
from tests.fakes.clips_api import Reply, render_bytes
from videos.models import Video

RANGES = [(0.0, 30.0), (60.0, 90.5), (120.0, 150.0)]

# Read by the fake_clips_api fixture: a render call writes each output to the local S3 server
# before it answers, which on a loaded machine can outlast the default 0.5 s (then retried).
CLIPS_API_READ_TIMEOUT_SECONDS = 10.0


@pytest.fixture
def video(user):
    return VideoFactory(owner=user, status=Video.Status.COMPLETED)


def make_export(video, ranges=RANGES, **fields):
    clip = ClipFactory(video=video, start=ranges[0][0], end=ranges[0][1])
    return ExportFactory(
        video=video,
        owner=video.owner,
        selected_ranges=[
            {"start": s, "end": e, "clip_id": str(clip.id) if n == 0 else None}
            for n, (s, e) in enumerate(ranges)
        ],
        **fields,
    )


@pytest.fixture
def export(video):
    return make_export(
        video, aspect_ratio="1:1", target_language="es", subtitle_style={"font_size": 90}
    )


def event_for(export):
    return process_event(export)  # as the outbox sends it


def outcomes(export):
    return {(c.start, c.end): (c.s3_key, c.error) for c in export.exported_clips.all()}


def process_calls(api):
    return [c for c in api.calls if c.endpoint == "process"]


def asked(call):
    return [(c["start"], c["end"]) for c in call.body["clips"]]


def downloads(export) -> list[tuple[int, bytes]]:
    """Each exported clip fetched through the download_url of the export's API answer."""
    client = APIClient()
    client.force_authenticate(export.owner)
    clips = client.get(f"/api/exports/{export.pk}/").json()["exported_clips"]
    fetched = [requests.get(clip["download_url"], timeout=5) for clip in clips]
    return [(answer.status_code, answer.content) for answer in fetched]


def test_one_call_renders_every_clip_into_objects_of_the_export(executor, fake_clips_api, export):
    run = executor.run("process-clips", event_for(export))

    assert run.status == "completed"
    assert run.output == {"videoId": str(export.video_id), "processedClips": 3}
    assert list(run.step_attempts) == [
        "create-export-record",
        "call-process-clips-api",
        "copy-rendered-clips",
        "save-exported-clips-to-database",
    ]
    # ONE request with every range, the contract's body and the export's subtitle overrides.
    [call] = process_calls(fake_clips_api)
    body = call.body
    assert body["s3_key"] == export.video.s3_key
    assert asked(call) == RANGES
    assert (body["aspect_ratio"], body["target_language"], body["subtitles"]) == ("1:1", "es", True)
    assert body["subtitle_customization"] == {**DEFAULT_SUBTITLE_CUSTOMIZATION, "font_size": 90}
    export.refresh_from_db()
    assert export.status == Export.Status.COMPLETED
    assert export.finished_at is not None and export.last_error == ""
    assert outcomes(export) == {
        (s, e): (f"exports/{export.id}/clip_{n}.mp4", "") for n, (s, e) in enumerate(RANGES)
    }
    first = export.exported_clips.get(start=0.0)
    assert first.source_clip is not None and first.aspect_ratio == "1:1"
    assert first.target_language == "es"
    # Three distinct objects, each with the bytes of its own range, through download URLs.
    fetched = downloads(export)
    assert fetched == [(200, render_bytes(export.video.s3_key, s, e, 1)) for s, e in RANGES]
    assert len({content for _, content in fetched}) == 3


def test_seed_event_shape_creates_the_export_once(executor, fake_clips_api, video):
    event = {
        "id": "01JSEEDPROCESSEVENT",
        "name": "clips/process",
        "data": {
            "videoId": str(video.id),
            "s3Key": video.s3_key,
            "selectedClips": [{"start": "10", "end": "40.5"}, {"start": "100", "end": "130"}],
            "targetLanguage": None,
            "aspectRatio": "9:16",
            "userId": str(video.owner_id),
        },
    }
    first = executor.run("process-clips", event)
    executor.run("process-clips", event)

    export = Export.objects.get()
    assert first.output == {"videoId": str(video.id), "processedClips": 2}
    assert (export.owner, export.aspect_ratio, export.target_language) == (
        video.owner,
        "9:16",
        None,
    )
    assert export.status == Export.Status.COMPLETED
    assert set(outcomes(export)) == {(10.0, 40.5), (100.0, 130.0)}
    assert fake_clips_api.count("process") == 1


def test_every_step_delivered_twice_renders_once(live_server, fake_clips_api, export):
    run = InngestExecutor(base_url=live_server.url, redeliver=True).run(
        "process-clips", event_for(export)
    )

    assert run.status == "completed"
    assert ExportedClip.objects.filter(export=export).count() == 3
    # The second delivery of the render step found every clip rendered: no second call.
    assert fake_clips_api.count("process") == 1


def test_a_clip_missing_from_the_answer_is_that_clips_error(executor, fake_clips_api, export):
    fake_clips_api.omit(60.0, 90.5)

    run = executor.run("process-clips", event_for(export))

    assert run.status == "completed"
    assert run.output == {"videoId": str(export.video_id), "processedClips": 2}
    assert fake_clips_api.count("process") == 1
    export.refresh_from_db()
    assert export.status == Export.Status.PARTIAL
    assert export.last_error.startswith("1 of 3 clips failed. 60-90.5s: ")
    rows = outcomes(export)
    assert rows[(0.0, 30.0)] == (f"exports/{export.id}/clip_0.mp4", "")
    assert rows[(120.0, 150.0)] == (f"exports/{export.id}/clip_2.mp4", "")
    assert rows[(60.0, 90.5)] == ("", "the processing API's answer has no clip for 60-90.5s")


def test_rerun_of_a_partial_export_renders_only_the_missing_clip_and_overwrites_nothing(
    executor, fake_clips_api, export, s3
):
    fake_clips_api.omit(60.0, 90.5, times=1)
    executor.run("process-clips", event_for(export))
    assert Export.objects.get(pk=export.pk).status == Export.Status.PARTIAL
    kept = {key: (s3.get(key), s3.etag(key)) for key in s3.keys(export.storage_prefix)}
    assert sorted(kept) == [export.clip_key(0), export.clip_key(2)]

    run = executor.run("process-clips", event_for(export))  # a new run for the same export

    assert run.output["processedClips"] == 3
    first, second = process_calls(fake_clips_api)
    assert asked(first) == RANGES
    assert asked(second) == [(60.0, 90.5)]  # only the missing range
    export.refresh_from_db()
    assert (export.status, export.attempts) == (Export.Status.COMPLETED, 2)
    # The rerun's output was `clip_0` of the video's folder, which the first run's clip 0 had
    # been rendered to: the export's own copy of that clip is untouched.
    assert {key: (s3.get(key), s3.etag(key)) for key in kept} == kept
    assert s3.get(export.clip_key(1)) == render_bytes(export.video.s3_key, 60.0, 90.5, 2)
    assert [status for status, _ in downloads(export)] == [200, 200, 200]


def test_two_exports_of_one_video_at_once_each_keep_their_own_objects(
    live_server, fake_clips_api, video, settings
):
    first = make_export(video, [(0.0, 30.0), (60.0, 90.0)])
    second = make_export(video, [(100.0, 130.0), (200.0, 230.0)])
    fake_clips_api.process_seconds = 0.5  # long enough for the two runs to overlap
    # Inngest's limit as configured on the function: one executing step per video.
    concurrency = StepConcurrency(functions.process_clips)
    assert concurrency.keys == ["event.data.videoId"]
    runs = {}

    def run(export):
        executor = InngestExecutor(base_url=live_server.url, concurrency=concurrency)
        runs[export.pk] = executor.run("process-clips", event_for(export))

    threads = [threading.Thread(target=run, args=(export,)) for export in (first, second)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    assert [runs[e.pk].status for e in (first, second)] == ["completed", "completed"], [
        runs[e.pk].error for e in (first, second)
    ]
    one, two = sorted(process_calls(fake_clips_api), key=lambda call: call.started)
    assert one.answered <= two.started  # the renders took turns...
    # ...both wrote `clip_0`/`clip_1` of the video's folder, and each export kept its own.
    render_of = {tuple(asked(one)): 1, tuple(asked(two)): 2}
    for export in (first, second):
        export.refresh_from_db()
        assert export.status == Export.Status.COMPLETED
        ranges = [(r["start"], r["end"]) for r in export.selected_ranges]
        render = render_of[tuple(ranges)]
        assert downloads(export) == [
            (200, render_bytes(video.s3_key, s, e, render)) for s, e in ranges
        ]


def test_the_function_allows_one_executing_step_per_video():
    limits = functions.process_clips.get_config("http://x/api/inngest").main.concurrency
    assert ("event.data.videoId", 1) in [(c.key, c.limit) for c in limits]
    assert len(limits) <= 2  # Inngest's maximum per function


def test_a_refused_call_fails_every_clip_and_the_run(executor, fake_clips_api, export):
    fake_clips_api.on_range(60.0, 90.5, Reply(status=400, body={"detail": "range too long"}))

    run = executor.run("process-clips", event_for(export))

    assert run.status == "failed"
    assert fake_clips_api.count("process") == 1  # 4xx: not retried
    export.refresh_from_db()
    assert export.status == Export.Status.FAILED
    assert export.last_error.startswith("3 of 3 clips failed.")
    assert export.finished_at is not None
    rows = outcomes(export)
    assert all(key == "" and "range too long" in error for key, error in rows.values())


def test_a_call_failing_on_every_attempt_fails_every_clip(
    executor, fake_clips_api, export, settings
):
    fake_clips_api.on_range(0.0, 30.0, Reply(status=500, body={"detail": "encoder crashed"}))

    run = executor.run("process-clips", event_for(export))

    assert run.status == "failed"
    assert fake_clips_api.count("process") == settings.INNGEST_RETRIES + 1
    export.refresh_from_db()
    assert export.status == Export.Status.FAILED
    assert all("encoder crashed" in error for _, error in outcomes(export).values())


@pytest.mark.parametrize("max_attempts", [1, 2])
def test_inngests_max_attempts_decides_when_the_render_gives_up(
    live_server, fake_clips_api, export, settings, max_attempts
):
    # Inngest's count, not INNGEST_RETRIES (3: 4 attempts), e.g. after a change not yet synced.
    assert max_attempts < settings.INNGEST_RETRIES + 1
    fake_clips_api.on_range(0.0, 30.0, Reply(status=500, body={"detail": "encoder crashed"}))
    executor = InngestExecutor(base_url=live_server.url, max_attempts=max_attempts)

    run = executor.run("process-clips", event_for(export))

    assert run.status == "failed"
    assert fake_clips_api.count("process") == max_attempts
    export.refresh_from_db()
    assert export.status == Export.Status.FAILED
    # Given up on the last attempt: each clip has the API's error, none is "not processed".
    errors = [error for _, error in outcomes(export).values()]
    assert len(errors) == len(RANGES)
    assert all("encoder crashed" in error for error in errors)
    assert "not processed" not in export.last_error


def test_retry_after_pauses_the_run_then_renders(executor, fake_clips_api, export):
    fake_clips_api.on_range(60.0, 90.5, Reply(status=503, headers={"Retry-After": "2"}), times=1)

    run = executor.run("process-clips", event_for(export))

    assert run.status == "completed"
    assert len(run.retry_after) == 1
    assert fake_clips_api.count("process") == 2
    assert Export.objects.get(pk=export.pk).status == Export.Status.COMPLETED


def test_retry_after_on_every_attempt_becomes_the_clips_error(
    executor, fake_clips_api, export, settings
):
    # The SDK raises RetryAfterError at the function level: on the last attempt it must become
    # the clips' errors, so the export finishes with a reason for each.
    fake_clips_api.on_range(60.0, 90.5, Reply(status=429, headers={"Retry-After": "1"}))

    run = executor.run("process-clips", event_for(export))

    assert run.status == "failed"
    assert len(run.retry_after) == settings.INNGEST_RETRIES
    assert fake_clips_api.count("process") == settings.INNGEST_RETRIES + 1
    export.refresh_from_db()
    assert export.status == Export.Status.FAILED
    assert all("answered 429" in error for _, error in outcomes(export).values())


def test_a_partial_export_whose_rerun_is_refused_stays_partial(executor, fake_clips_api, export):
    fake_clips_api.omit(60.0, 90.5, times=1)
    executor.run("process-clips", event_for(export))
    fake_clips_api.on_range(60.0, 90.5, Reply(status=422, body={"detail": "bad range"}))

    run = executor.run("process-clips", event_for(export))

    assert run.status == "completed"
    export.refresh_from_db()
    assert export.status == Export.Status.PARTIAL
    rows = outcomes(export)
    assert rows[(0.0, 30.0)] == (export.clip_key(0), "")
    assert "bad range" in rows[(60.0, 90.5)][1]


def test_unknown_export_fails_at_once(executor, fake_clips_api, export):
    event = event_for(export)
    event["data"]["exportId"] = "00000000-0000-0000-0000-000000000000"

    run = executor.run("process-clips", event)

    assert run.status == "failed"
    assert run.requests == 1
    assert "does not exist" in run.error["message"]
    assert fake_clips_api.count("process") == 0


def test_without_object_storage_nothing_is_rendered(executor, fake_clips_api, export, settings):
    settings.AWS_S3_BUCKET_NAME = ""

    run = executor.run("process-clips", event_for(export))

    assert run.status == "failed"
    assert "AWS_S3_BUCKET_NAME" in run.error["message"]
    assert fake_clips_api.count("process") == 0
    assert Export.objects.get(pk=export.pk).status == Export.Status.FAILED


def test_run_failing_after_clips_were_rendered_leaves_the_export_partial(
    executor, fake_clips_api, export, monkeypatch, settings
):
    def database_down(**kwargs):
        raise RuntimeError("database unavailable")

    monkeypatch.setattr(functions, "export_finish", database_down)

    run = executor.run("process-clips", event_for(export))

    assert run.status == "failed"
    assert run.step_attempts["save-exported-clips-to-database"] == settings.INNGEST_RETRIES + 1
    export.refresh_from_db()
    # The clips rendered before the failure are stored: `partial`, with the run's error.
    assert export.status == Export.Status.PARTIAL
    assert "database unavailable" in export.last_error
    assert export.finished_at is not None
    assert export.exported_clips.exclude(s3_key="").count() == 3


def test_export_deleted_before_saving_fails_at_once(executor, fake_clips_api, export, monkeypatch):
    finish = functions.export_finish
    calls = []

    def delete_then_finish(**kwargs):
        calls.append(kwargs["attempt"])
        Export.objects.filter(pk=kwargs["export_id"]).delete()
        return finish(**kwargs)

    monkeypatch.setattr(functions, "export_finish", delete_then_finish)

    run = executor.run("process-clips", event_for(export))

    assert run.status == "failed"
    assert calls == [0]  # not retried
    assert run.error["message"].startswith("save-exported-clips-to-database: export ")
    assert "does not exist" in run.error["message"]


def test_step_output_is_small(executor, fake_clips_api, export):
    run = executor.run("process-clips", event_for(export))
    folder = posixpath.dirname(export.video.s3_key)
    assert run.steps["call-process-clips-api"] == {
        "data": {
            "requested": 3,
            "rendered": 3,
            "failed": 0,
            "outputs": [[n, f"{folder}/clip_{n}.mp4"] for n in range(3)],
        }
    }
    assert run.steps["copy-rendered-clips"] == {"data": {"copied": 3, "failed": 0}}


def test_storage_down_during_the_copies_renders_once_and_completes_once_it_is_back(
    live_server, fake_clips_api, export, s3, settings
):
    assert settings.KORAI_COPY_RETRIES == 20
    render = fake_clips_api.process_answer

    def render_then_storage_goes_down(body):
        answer = render(body)  # the outputs are written to the video's folder first
        s3.down()
        return answer

    fake_clips_api.process_answer = render_then_storage_goes_down
    sleeps = []

    def storage_back_after_two_waits(name):
        sleeps.append(name)
        if len(sleeps) == 2:
            s3.up()

    executor = InngestExecutor(base_url=live_server.url, on_sleep=storage_back_after_two_waits)

    run = executor.run("process-clips", event_for(export))

    assert run.status == "completed", run.error
    assert fake_clips_api.count("process") == 1  # one GPU run, whatever storage did
    assert sleeps == ["wait-for-storage", "wait-for-storage"]
    assert run.step_attempts["copy-rendered-clips"] == 3  # two tries while down, then kept
    export.refresh_from_db()
    assert export.status == Export.Status.COMPLETED
    assert export.last_error == ""
    assert downloads(export) == [
        (200, render_bytes(export.video.s3_key, s, e, 1)) for s, e in RANGES
    ]
    failed_tries = [e["detail"] for e in export.timeline if e["step"] == "copy-rendered-clips"]
    assert "trying again in 15 s" in failed_tries[0]
    assert "trying again in 30 s" in failed_tries[1]
    assert not RenderLease.objects.filter(video_id=export.video_id).exists()  # given back


def test_storage_down_through_every_try_of_the_copies_fails_those_clips(
    live_server, fake_clips_api, export, s3, settings
):
    settings.KORAI_COPY_RETRIES = 2
    render = fake_clips_api.process_answer

    def render_then_storage_goes_down(body):
        answer = render(body)
        s3.down()
        return answer

    fake_clips_api.process_answer = render_then_storage_goes_down

    run = InngestExecutor(base_url=live_server.url).run("process-clips", event_for(export))

    assert run.status == "failed"
    assert fake_clips_api.count("process") == 1
    assert run.step_attempts["copy-rendered-clips"] == 3
    export.refresh_from_db()
    assert export.status == Export.Status.FAILED
    assert all("could not be kept" in error for _, error in outcomes(export).values())


def test_a_cancel_during_the_copies_leaves_no_copy_and_no_row(
    executor, fake_clips_api, export, s3, monkeypatch
):
    copy = storage.copy_unless_same

    def copy_then_cancel(src, dst):
        copied = copy(src, dst)
        if dst == export.clip_key(1):  # two of the three copies made
            export_cancel(export=Export.objects.get(pk=export.pk))  # the API's cancel
        return copied

    monkeypatch.setattr(storage, "copy_unless_same", copy_then_cancel)

    run = executor.run("process-clips", event_for(export))

    assert run.status == "completed"  # stopped at the copies' commit, not failed
    assert fake_clips_api.count("process") == 1
    export.refresh_from_db()
    assert export.status == Export.Status.CANCELLED
    assert not export.exported_clips.exists()
    assert s3.keys(export.storage_prefix) == []  # the copies it made were deleted
    assert not RenderLease.objects.filter(video_id=export.video_id).exists()


def test_the_cancelled_function_deletes_copies_no_row_points_at(
    executor, fake_clips_api, export, s3
):
    # A run cancelled in Inngest while it waited for storage: its copies stay until
    # process-clips-cancelled settles the export and deletes what no row points at.
    executor.run("process-clips", event_for(export))
    kept = s3.keys(export.storage_prefix)
    Export.objects.filter(pk=export.pk).update(status=Export.Status.PROCESSING)
    s3.put(f"{export.storage_prefix}clip_7.mp4", b"a copy of a cancelled run")
    event = event_for(export)
    run = Run(run_id=Export.objects.get(pk=export.pk).inngest_run_id, status="cancelled")

    executor.cancelled("process-clips", event, run)

    assert Export.objects.get(pk=export.pk).status == Export.Status.CANCELLED
    assert s3.keys(export.storage_prefix) == kept


# --- Long calls: the service answers 303 to a result URL every interval (Modal: 150 s) --------


def test_a_render_cut_right_after_the_303_resumes_its_call_and_posts_once(
    live_server, proxy, fake_clips_api, export
):
    """The POST step's answer is lost after the service answered 303 (a killed worker, a
    deploy): the retry waits on the kept result URL, the video's lease held from before the
    POST to the last copy, re-entered by each step."""
    leases = []
    fake_clips_api.queue("process", Reply(redirects=2))
    proxy.forward()  # create-export-record
    proxy.cut()  # call-process-clips-api: its answer never reaches Inngest
    executor = InngestExecutor(base_url=proxy.url)
    post = executor.session.post

    def post_noting_the_lease(*args, **kwargs):
        leases.append(list(RenderLease.objects.values_list("export_id", "run_id")))
        return post(*args, **kwargs)

    executor.session.post = post_noting_the_lease

    run = executor.run("process-clips", event_for(export))

    assert run.status == "completed", run.error
    assert fake_clips_api.count("process") == 1
    assert [c.endpoint for c in fake_clips_api.calls] == ["process"] + ["result:process"] * 2
    assert list(run.step_attempts) == [
        "create-export-record",
        "call-process-clips-api",
        "wait-for-process-clips-api-1",
        "copy-rendered-clips",
        "save-exported-clips-to-database",
    ]
    # Between the POST and the last copy, every request found the video leased to this run.
    assert leases[2:4] == [[(export.id, run.run_id)]] * 2
    assert not RenderLease.objects.exists()  # given back after the copies
    export.refresh_from_db()
    assert export.status == Export.Status.COMPLETED
    assert export.pending_call_url == ""
    assert all(key for key, _ in outcomes(export).values())


def test_a_long_render_behind_a_short_idle_timeout_posts_once_one_interval_per_request(
    live_server, fake_clips_api, export, settings
):
    """A 4 s render answered 303 every 1 s, behind an idle timeout of 2.5 s."""
    settings.CLIPS_API_REDIRECT_INTERVAL_SECONDS = 1.0
    fake_clips_api.queue("process", Reply(redirects=4, redirect_delay=1.0))
    executor = InngestExecutor(base_url=live_server.url, timeout=(5, 2.5))
    durations = executor.request_seconds

    run = executor.run("process-clips", event_for(export))

    assert run.status == "completed", run.error
    assert fake_clips_api.count("process") == 1
    assert None not in run.responses
    assert max(durations) < 1.0 + 0.6, durations
    export.refresh_from_db()
    assert export.status == Export.Status.COMPLETED
    print(f"longest /api/inngest request {max(durations):.2f} s of {sum(durations):.2f} s")
