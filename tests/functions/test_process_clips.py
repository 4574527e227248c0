"""process-clips end to end: the live server's /api/inngest driven over HTTP like Inngest."""

import pytest

from devtools.executor import InngestExecutor
from exports import functions
from exports.models import Export, ExportedClip
from exports.subtitles import DEFAULT_SUBTITLE_CUSTOMIZATION
from tests.factories import ClipFactory, ExportFactory, VideoFactory
from tests.fakes.clips_api import Reply
from videos.models import Video

RANGES = [(0.0, 30.0), (60.0, 90.5), (120.0, 150.0)]


@pytest.fixture
def video(user):
    return VideoFactory(owner=user, processing_status=Video.Status.COMPLETED)


@pytest.fixture
def export(video):
    clip = ClipFactory(video=video, start=0.0, end=30.0)
    return ExportFactory(
        video=video,
        owner=video.owner,
        aspect_ratio="1:1",
        target_language="es",
        subtitle_style={"font_size": 90},
        selected_ranges=[
            {"start": s, "end": e, "clip_id": str(clip.id) if s == 0 else None} for s, e in RANGES
        ],
    )


def event_for(export):
    return {
        "name": "clips/process",
        "data": {
            "exportId": str(export.id),
            "videoId": str(export.video_id),
            "s3Key": export.video.s3_key,
            "selectedClips": [{"start": s, "end": e} for s, e in RANGES],
            "targetLanguage": export.target_language,
            "aspectRatio": export.aspect_ratio,
            "userId": str(export.owner_id),
        },
    }


def keys(export):
    return {(c.start, c.end): (c.s3_key, c.error) for c in export.exported_clips.all()}


def test_happy_path(executor, fake_clips_api, export):
    run = executor.run("process-clips", event_for(export))

    assert run.status == "completed"
    assert run.output == {"videoId": str(export.video_id), "processedClips": 3}
    assert list(run.step_attempts) == [
        "create-export-record",
        "process-clip-1",
        "process-clip-2",
        "process-clip-3",
        "save-exported-clips-to-database",
    ]
    export.refresh_from_db()
    assert export.status == Export.Status.COMPLETED
    assert export.finished_at is not None and export.last_error == ""
    assert keys(export) == {(s, e): (f"exports/{s:g}-{e:g}.mp4", "") for s, e in RANGES}
    first = export.exported_clips.get(start=0.0)
    assert first.source_clip is not None and first.aspect_ratio == "1:1"
    assert first.target_language == "es"
    # One call per clip, with the contract's body and the export's subtitle overrides.
    body = fake_clips_api.calls[0].body
    assert body["s3_key"] == export.video.s3_key
    assert body["clips"] == [{"start": 0.0, "end": 30.0}]
    assert (body["aspect_ratio"], body["target_language"], body["subtitles"]) == ("1:1", "es", True)
    assert body["subtitle_customization"] == {**DEFAULT_SUBTITLE_CUSTOMIZATION, "font_size": 90}


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
    assert set(keys(export)) == {(10.0, 40.5), (100.0, 130.0)}
    assert fake_clips_api.count("process") == 2


def test_every_step_delivered_twice_writes_no_duplicates(live_server, fake_clips_api, export):
    run = InngestExecutor(base_url=live_server.url, redeliver=True).run(
        "process-clips", event_for(export)
    )

    assert run.status == "completed"
    assert ExportedClip.objects.filter(export=export).count() == 3
    # The second delivery of a clip's step found it rendered and did not render it again.
    assert fake_clips_api.count("process") == 3


def test_partial_export_records_each_failure(executor, fake_clips_api, export, settings):
    fake_clips_api.on_range(60.0, 90.5, Reply(status=400, body={"detail": "range too long"}))
    fake_clips_api.on_range(120.0, 150.0, Reply(status=500, body={"detail": "encoder crashed"}))

    run = executor.run("process-clips", event_for(export))

    assert run.status == "completed"
    assert run.output == {"videoId": str(export.video_id), "processedClips": 1}
    assert fake_clips_api.count("process", start=60.0, end=90.5) == 1  # 4xx: not retried
    assert fake_clips_api.count("process", start=120.0, end=150.0) == settings.INNGEST_RETRIES + 1
    export.refresh_from_db()
    assert export.status == Export.Status.PARTIAL
    assert export.last_error.startswith("2 of 3 clips failed.")
    rows = keys(export)
    assert rows[(0.0, 30.0)] == ("exports/0-30.mp4", "")
    assert rows[(60.0, 90.5)][0] == "" and "range too long" in rows[(60.0, 90.5)][1]
    assert rows[(120.0, 150.0)][0] == "" and "encoder crashed" in rows[(120.0, 150.0)][1]


def test_rerun_of_a_partial_export_renders_only_the_missing_clips(executor, fake_clips_api, export):
    fake_clips_api.on_range(60.0, 90.5, Reply(status=400), times=1)
    executor.run("process-clips", event_for(export))
    assert Export.objects.get(pk=export.pk).status == Export.Status.PARTIAL

    run = executor.run("process-clips", event_for(export))  # a new run for the same export

    assert run.output["processedClips"] == 3
    export.refresh_from_db()
    assert export.status == Export.Status.COMPLETED
    assert export.attempts == 2
    assert fake_clips_api.count("process", start=0.0, end=30.0) == 1
    assert fake_clips_api.count("process", start=60.0, end=90.5) == 2
    assert all(key for key, _ in keys(export).values())


def test_no_clip_rendered_fails_the_export_and_the_run(executor, fake_clips_api, export):
    for start, end in RANGES:
        fake_clips_api.on_range(start, end, Reply(status=404, body={"detail": "no source video"}))

    run = executor.run("process-clips", event_for(export))

    assert run.status == "failed"
    export.refresh_from_db()
    assert export.status == Export.Status.FAILED
    assert export.last_error.startswith("3 of 3 clips failed.")
    assert export.finished_at is not None
    assert ExportedClip.objects.filter(export=export).exclude(error="").count() == 3


def test_retry_after_pauses_the_run_without_rendering_twice(executor, fake_clips_api, export):
    fake_clips_api.on_range(60.0, 90.5, Reply(status=503, headers={"Retry-After": "2"}), times=1)

    run = executor.run("process-clips", event_for(export))

    assert run.status == "completed"
    assert len(run.retry_after) == 1
    assert fake_clips_api.count("process", start=0.0, end=30.0) == 1  # memoized, not redone
    assert Export.objects.get(pk=export.pk).status == Export.Status.COMPLETED


def test_unknown_export_fails_at_once(executor, fake_clips_api, export):
    event = event_for(export)
    event["data"]["exportId"] = "00000000-0000-0000-0000-000000000000"

    run = executor.run("process-clips", event)

    assert run.status == "failed"
    assert run.requests == 1
    assert "does not exist" in run.error["message"]
    assert fake_clips_api.count("process") == 0


def test_retry_after_on_every_attempt_fails_only_that_clip(
    executor, fake_clips_api, export, settings
):
    # The SDK raises RetryAfterError at the function level: on the last attempt it must become
    # this clip's error, not the run's, so the clips after it are still rendered.
    fake_clips_api.on_range(60.0, 90.5, Reply(status=429, headers={"Retry-After": "1"}))

    run = executor.run("process-clips", event_for(export))

    assert run.status == "completed"
    assert run.output == {"videoId": str(export.video_id), "processedClips": 2}
    assert len(run.retry_after) == settings.INNGEST_RETRIES
    assert fake_clips_api.count("process", start=60.0, end=90.5) == settings.INNGEST_RETRIES + 1
    assert fake_clips_api.count("process", start=120.0, end=150.0) == 1
    export.refresh_from_db()
    assert export.status == Export.Status.PARTIAL
    assert export.last_error.startswith("1 of 3 clips failed.")
    rows = keys(export)
    assert rows[(120.0, 150.0)] == ("exports/120-150.mp4", "")
    assert rows[(60.0, 90.5)][0] == "" and "answered 429" in rows[(60.0, 90.5)][1]


def test_run_failing_after_clips_were_rendered_leaves_the_export_partial(
    executor, fake_clips_api, export, monkeypatch, settings
):
    def database_down(**kwargs):
        raise RuntimeError("database unavailable")

    monkeypatch.setattr(functions, "exported_clips_save", database_down)

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
    save = functions.exported_clips_save

    calls = []

    def delete_then_save(**kwargs):
        calls.append(kwargs["attempt"])
        Export.objects.filter(pk=kwargs["export_id"]).delete()
        return save(**kwargs)

    monkeypatch.setattr(functions, "exported_clips_save", delete_then_save)

    run = executor.run("process-clips", event_for(export))

    assert run.status == "failed"
    assert calls == [0]  # not retried
    assert run.error["message"].startswith("save-exported-clips-to-database: export ")
    assert "does not exist" in run.error["message"]
