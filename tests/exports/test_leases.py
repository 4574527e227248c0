"""A video's render lease (`exports/leases.py`): one render of a video at a time, from before
its processing call until its last copy, whatever Inngest's concurrency limit does. Driven over
HTTP like Inngest (no concurrency limit: the real server frees it after a cancel or a dropped
connection), against the fake processing API and the local S3 server."""

import threading
from datetime import datetime, timedelta

import pytest
from django.utils import timezone

from devtools.executor import Backoff, InngestExecutor
from exports.leases import render_lease_acquire, render_lease_renew
from exports.models import Export, RenderLease
from exports.services import export_cancel
from integrations.clips_api import process_call_max_seconds
from tests.exports.test_functions import downloads, event_for, make_export, process_calls
from tests.factories import VideoFactory
from tests.fakes.clips_api import Reply, render_bytes
from videos.models import Video

# Read by the fake_clips_api fixture (see tests/exports/test_functions.py).
CLIPS_API_READ_TIMEOUT_SECONDS = 10.0


@pytest.fixture
def video(user):
    return VideoFactory(owner=user, status=Video.Status.COMPLETED)


def killed_render(export, run_id="run-killed") -> RenderLease:
    """What a render whose process was killed during its call leaves: its export processing by
    its run, and the video's lease as that render took it, never given back."""
    Export.objects.filter(pk=export.pk).update(
        status=Export.Status.PROCESSING, inngest_run_id=run_id
    )
    return render_lease_acquire(
        video_id=export.video_id,
        export_id=str(export.pk),
        run_id=run_id,
        seconds=process_call_max_seconds() + 60,
    )


def ranges_of(export):
    return [(r["start"], r["end"]) for r in export.selected_ranges]


def test_a_killed_renders_lease_is_waited_for_then_taken_over_once_it_expires(
    live_server, fake_clips_api, video
):
    dead = make_export(video, [(0.0, 30.0)])
    killed_render(dead)
    waiting = make_export(video, [(100.0, 130.0), (200.0, 230.0)])
    seen = []

    def clock_moves_past_the_expiry(attempt):
        seen.append(fake_clips_api.count("process"))
        RenderLease.objects.filter(video=video).update(
            expires_at=timezone.now() - timedelta(seconds=1)
        )

    executor = InngestExecutor(base_url=live_server.url, before_retry=clock_moves_past_the_expiry)
    run = executor.run("process-clips", event_for(waiting))

    assert run.status == "completed", run.error
    assert len(run.retry_after) == 1 and seen == [0]  # waited, without calling the API
    [call] = process_calls(fake_clips_api)
    assert [(c["start"], c["end"]) for c in call.body["clips"]] == ranges_of(waiting)
    waiting.refresh_from_db()
    assert (waiting.status, waiting.last_error) == (Export.Status.COMPLETED, "")
    notes = [line["detail"] for line in waiting.timeline]
    assert f"waiting for export {dead.pk} of the same video" in notes
    assert not [note for note in notes if note.startswith("failed")]
    assert downloads(waiting) == [
        (200, render_bytes(video.s3_key, s, e, 1)) for s, e in ranges_of(waiting)
    ]
    assert not RenderLease.objects.exists()


def test_a_retry_of_the_same_run_re_enters_its_own_lease(executor, fake_clips_api, video):
    export = make_export(video)
    killed_render(export, run_id="run-1")  # its attempt died mid-call; Inngest retries it

    run = executor.run("process-clips", event_for(export), run_id="run-1")

    assert run.status == "completed", run.error
    assert run.retry_after == []
    assert Export.objects.get(pk=export.pk).status == Export.Status.COMPLETED
    assert not RenderLease.objects.exists()


def test_a_new_run_of_the_same_export_waits_for_the_old_runs_call(
    executor, fake_clips_api, video, settings
):
    export = make_export(video)
    lease = killed_render(export, run_id="run-old")  # the old run's call may still be writing

    run = executor.run("process-clips", event_for(export), run_id="run-new")

    # Its retries are spread over the old lease: the last one comes once it expired.
    assert len(run.retry_after) == settings.INNGEST_RETRIES
    first, *_, last = [datetime.fromisoformat(at.replace("Z", "+00:00")) for at in run.retry_after]
    assert first < lease.expires_at <= last + timedelta(seconds=1)
    # This executor does not wait that long: it gave up, the clips say why, nothing rendered.
    assert run.status == "failed"
    assert fake_clips_api.count("process") == 0
    export.refresh_from_db()
    assert export.status == Export.Status.FAILED
    assert all(
        f"waiting for export {export.pk}" in clip.error for clip in export.exported_clips.all()
    )
    assert RenderLease.objects.get(video=video).run_id == "run-old"


@pytest.mark.parametrize(
    ("ending", "reply"),
    [
        ("completed", None),
        ("refused", Reply(status=400, body={"detail": "range too long"})),
        ("failing on every attempt", Reply(status=500, body={"detail": "encoder crashed"})),
    ],
)
def test_the_video_is_free_once_a_render_ends(executor, fake_clips_api, video, ending, reply):
    first = make_export(video, [(0.0, 30.0)])
    if reply is not None:
        fake_clips_api.on_range(0.0, 30.0, reply)
    executor.run("process-clips", event_for(first))
    second = make_export(video, [(100.0, 130.0)])

    run = executor.run("process-clips", event_for(second))

    assert run.status == "completed", run.error
    assert run.retry_after == []  # rendered at once: nothing to wait for
    assert Export.objects.get(pk=second.pk).status == Export.Status.COMPLETED
    assert not RenderLease.objects.exists()


def test_renders_of_one_video_take_turns_without_inngests_limit(
    live_server, fake_clips_api, video, settings
):
    settings.INNGEST_RETRIES = 30  # waiting a few short retry-afters is not giving up
    first = make_export(video, [(0.0, 30.0), (60.0, 90.0)])
    second = make_export(video, [(100.0, 130.0), (200.0, 230.0)])
    fake_clips_api.process_seconds = 0.5  # long enough for the two runs to overlap
    runs = {}

    def run(export):
        executor = InngestExecutor(
            base_url=live_server.url,
            max_attempts=31,
            backoff=Backoff(scale=1.0, cap=0.2, jitter=False),
        )
        runs[export.pk] = executor.run("process-clips", event_for(export))

    threads = [threading.Thread(target=run, args=(export,)) for export in (first, second)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    assert [runs[e.pk].status for e in (first, second)] == ["completed", "completed"]
    one, two = sorted(process_calls(fake_clips_api), key=lambda call: call.started)
    assert one.answered <= two.started
    render_of = {tuple((c["start"], c["end"]) for c in one.body["clips"]): 1}
    for export in (first, second):
        render = render_of.get(tuple(ranges_of(export)), 2)
        assert downloads(export) == [
            (200, render_bytes(video.s3_key, s, e, render)) for s, e in ranges_of(export)
        ]


@pytest.mark.django_db
def test_a_cancel_frees_the_video_unless_the_call_may_still_be_writing(video):
    calling = make_export(video, [(0.0, 30.0)])
    killed_render(calling)

    export_cancel(export=calling)

    assert RenderLease.objects.get(video=video).export_id == calling.pk
    RenderLease.objects.all().delete()
    copying = make_export(video, [(60.0, 90.0)])
    killed_render(copying)
    assert render_lease_renew(
        video_id=video.pk, export_id=str(copying.pk), run_id="run-killed", seconds=60
    )

    export_cancel(export=copying)

    assert not RenderLease.objects.exists()
