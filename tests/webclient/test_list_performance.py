"""The list page polls `GET /api/clips/videos` every 5 s with all of a user's videos: one query
whatever the number of videos, and fast for 1,000 of them."""

import statistics
import time
import uuid

import pytest

from videos.models import Video

pytestmark = pytest.mark.django_db
STATUSES = ["completed", "completed", "completed", "processing", "failed"]


def make_videos(owner, count: int) -> None:
    videos = []
    for n in range(count):
        video_id = uuid.uuid4()
        status = STATUSES[n % len(STATUSES)]
        videos.append(
            Video(
                id=video_id,
                owner=owner,
                youtube_url=f"https://www.youtube.com/watch?v=v{n:010d}",
                youtube_id=f"v{n:010d}",
                prompt="the funniest moments" if n % 2 else "",
                s3_key=Video.s3_key_for(video_id),
                status=status,
                total_clips=7 if status == "completed" else 0,
                duration_seconds=600.5 if status == "completed" else None,
                detected_language="en" if status == "completed" else "",
                last_error="The clips service refused it." if status == "failed" else "",
            )
        )
    Video.objects.bulk_create(videos, batch_size=500)


def test_a_thousand_videos_in_one_query_and_fast(page, web_user, django_assert_num_queries):
    make_videos(web_user, 1000)
    page.get("/api/clips/videos")  # signs in (the user is then cached) and warms up

    with django_assert_num_queries(1):
        answer = page.get("/api/clips/videos")
    assert len(answer.json()["videos"]) == 1000

    timings, cpu = [], []
    for _ in range(15):
        started, started_cpu = time.perf_counter(), time.process_time()
        assert page.get("/api/clips/videos").status_code == 200
        timings.append(time.perf_counter() - started)
        cpu.append(time.process_time() - started_cpu)
    median_ms = statistics.median(timings) * 1000
    # CPU time of this process (Django's side) varies less than wall time on a busy machine.
    cpu_ms = statistics.median(cpu) * 1000
    print(f"\nGET /api/clips/videos, 1,000 videos: median {median_ms:.1f} ms ({cpu_ms:.1f} ms CPU)")
    # Generous for a loaded CI machine; the measured figure is in the notes.
    assert median_ms < 1500
