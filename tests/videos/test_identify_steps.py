"""The services the identify steps call (`videos/services.py`, `jobs.records`): idempotent,
transactional, and careful about which run wins."""

import pytest

from jobs.records import job_fail, job_start
from tests.factories import ClipFactory, VideoFactory
from videos.models import Video
from videos.services import video_complete


def answer(*ranges):
    return {
        "total_clips": len(ranges),
        "video_duration": 300.0,
        "detected_language": "en",
        "s3_path": "youtube-videos/k/yt",
        "identified_clips": [
            {
                "start": s,
                "end": e,
                "title": f"t{s}",
                "summary": "",
                "virality_score": 1,
                "related_topics": [],
                "transcript": "",
            }
            for s, e in ranges
        ],
        "dropped": [],
    }


@pytest.mark.django_db
def test_clips_save_twice_leaves_exactly_the_answers_clips():
    video = VideoFactory(status=Video.Status.PROCESSING)
    ClipFactory(video=video, start=500, end=530)  # from an earlier identification

    video_complete(video_id=str(video.id), identified=answer((1, 2), (3, 4)), attempt=0)
    video_complete(video_id=str(video.id), identified=answer((1, 2), (3, 4)), attempt=1)

    assert sorted(video.clips.values_list("start", "end")) == [(1, 2), (3, 4)]
    video.refresh_from_db()
    assert video.status == Video.Status.COMPLETED
    assert (video.total_clips, video.duration_seconds, video.s3_path) == (
        2,
        300.0,
        "youtube-videos/k/yt",
    )


@pytest.mark.django_db
def test_job_start_counts_runs_not_deliveries():
    video = VideoFactory()
    job_start(
        model=Video, job_id=str(video.id), run_id="run-1", step="create-video-record", attempt=0
    )
    job_start(
        model=Video, job_id=str(video.id), run_id="run-1", step="create-video-record", attempt=0
    )
    job_start(
        model=Video, job_id=str(video.id), run_id="run-2", step="create-video-record", attempt=0
    )

    video.refresh_from_db()
    assert (video.attempts, video.inngest_run_id) == (2, "run-2")
    assert video.status == Video.Status.PROCESSING


@pytest.mark.django_db
def test_failure_of_an_older_run_does_not_touch_a_rerun():
    video = VideoFactory()
    job_start(
        model=Video, job_id=str(video.id), run_id="run-2", step="create-video-record", attempt=0
    )

    job_fail(
        model=Video,
        failed=Video.Status.FAILED,
        job_id=str(video.id),
        run_id="run-1",
        event_id="",
        error="late news",
    )
    video.refresh_from_db()
    assert video.status == Video.Status.PROCESSING

    job_fail(
        model=Video,
        failed=Video.Status.FAILED,
        job_id=str(video.id),
        run_id="run-2",
        event_id="",
        error="API down",
    )
    video.refresh_from_db()
    assert (video.status, video.last_error) == (Video.Status.FAILED, "API down")
    assert video.finished_at is not None
