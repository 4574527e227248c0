"""Scale: saving 1,000 clips, and the status, list and admin pages with 100,000 videos.

Targets: saving 1,000 clips in at most 5 queries; the admin changelist under 300 ms."""

import statistics
import time
import uuid

from bench.common import report, setup_django

VIDEOS = 100_000
CLIPS = 1_000
MAX_SAVE_QUERIES = 5
ADMIN_TARGET_MS = 300


def main() -> dict:
    setup_django()
    results = {"save": _save_clips(), "pages": _pages_at_size()}
    save, pages = results["save"], results["pages"]
    report(
        f"Scale: saving {CLIPS} clips; pages with {VIDEOS:,} videos (PostgreSQL, in-process)",
        [
            f"save {CLIPS} clips (first time): {save['first']['queries']} queries"
            f" + BEGIN/COMMIT, {save['first']['ms']:.0f} ms  (target <= {MAX_SAVE_QUERIES})"
            f"  {'MET' if save['first']['queries'] <= MAX_SAVE_QUERIES else 'MISSED'}",
            f"save {CLIPS} clips (step retried): {save['again']['queries']} queries"
            f" + BEGIN/COMMIT, {save['again']['ms']:.0f} ms",
            *(
                f"{name:32s} {page['queries']} queries, median {page['ms']:.1f} ms"
                for name, page in pages.items()
            ),
            f"admin changelist target < {ADMIN_TARGET_MS} ms:"
            f" {'MET' if pages['admin videos changelist']['ms'] < ADMIN_TARGET_MS else 'MISSED'}",
        ],
    )
    return results


def _save_clips() -> dict:
    from integrations.clips_api import parse_identify_response
    from tests.factories import UserFactory, VideoFactory
    from videos.models import Video
    from videos.services import video_complete

    # A run saves the clips of a video it started (pending -> completed is not a move).
    video = VideoFactory(owner=UserFactory(username="bench-scale"), status=Video.Status.PROCESSING)
    identified = parse_identify_response(
        {
            "total_clips": CLIPS,
            "video_duration": CLIPS * 40.0,
            "detected_language": "en",
            "s3_path": video.s3_key,
            "identified_clips": [
                {
                    "start": i * 40.0,
                    "end": i * 40.0 + 30,
                    "title": f"Moment {i}",
                    "summary": "Why it works.",
                    "virality_score": i % 11,
                    "related_topics": ["bench"],
                    "transcript": "Words.",
                }
                for i in range(CLIPS)
            ],
        }
    )
    first = _measure(
        lambda: video_complete(video_id=str(video.id), identified=identified, attempt=0)
    )
    again = _measure(
        lambda: video_complete(video_id=str(video.id), identified=identified, attempt=1)
    )
    assert video.clips.count() == CLIPS
    return {"first": first, "again": again}


def _pages_at_size() -> dict:
    from django.contrib.auth import get_user_model
    from django.test import Client
    from rest_framework.authtoken.models import Token

    owner = _seed_videos()
    token, _ = Token.objects.get_or_create(user=owner)
    api = Client(headers={"Authorization": f"Token {token.key}"}, SERVER_NAME="127.0.0.1")
    # What a client polls for minutes; a pending video also reads its outbox (one more query).
    processing = owner.videos.filter(status="processing").first()
    pending = owner.videos.filter(status="pending").first()
    admin_user, _ = get_user_model().objects.get_or_create(
        username="bench-admin", defaults={"is_staff": True, "is_superuser": True}
    )
    admin = Client(SERVER_NAME="127.0.0.1")
    admin.force_login(admin_user)
    pages = {
        "status endpoint, processing": (api, f"/api/videos/{processing.id}/status/"),
        "status endpoint, pending": (api, f"/api/videos/{pending.id}/status/"),
        "videos list (owner of 10,000)": (api, "/api/videos/"),
        "videos list, status filter": (api, "/api/videos/?processing_status=failed"),
        "admin videos changelist": (admin, "/admin/videos/video/"),
        "admin changelist, failed": (admin, "/admin/videos/video/?status__exact=failed"),
        "admin changelist, page 200": (admin, "/admin/videos/video/?p=200"),
    }
    return {name: _measure_page(client, url) for name, (client, url) in pages.items()}


def _seed_videos():
    """100,000 videos: 10,000 of one owner (the one the API pages read), the rest spread over
    900 others, in mixed statuses. Seeded once; later runs reuse them."""
    from accounts.models import User
    from videos.models import Video

    owner, _ = User.objects.get_or_create(username="bench-heavy-owner")
    missing = VIDEOS - Video.objects.count()
    if missing <= 0:
        return owner
    others = User.objects.bulk_create(
        [User(username=f"bench-owner-{uuid.uuid4().hex[:12]}") for _ in range(900)]
    )
    statuses = ["completed"] * 7 + ["failed", "pending", "processing"]
    batch = []
    for i in range(missing):
        video_id = uuid.uuid4()
        youtube_id = video_id.hex[:11]
        batch.append(
            Video(
                id=video_id,
                owner=owner if i % 10 == 0 else others[i % len(others)],
                youtube_url=f"https://www.youtube.com/watch?v={youtube_id}",
                youtube_id=youtube_id,
                s3_key=Video.s3_key_for(video_id),
                # By tens, so the heavy owner (every tenth row) has every status too.
                status=statuses[(i // 10) % len(statuses)],
                total_clips=i % 12,
                last_error="Clips API answered 500" if (i // 10) % 10 == 7 else "",
            )
        )
        if len(batch) == 10_000:
            Video.objects.bulk_create(batch)
            batch = []
    Video.objects.bulk_create(batch)
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
    return owner


def _measure(work) -> dict:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as queries:
        started = time.perf_counter()
        work()
        elapsed = (time.perf_counter() - started) * 1000
    return {"queries": _statements(queries), "ms": elapsed}


def _statements(queries) -> int:
    """Queries that touch data; the transaction's BEGIN and COMMIT are not counted."""
    control = ("BEGIN", "COMMIT", "ROLLBACK", "SAVEPOINT", "RELEASE SAVEPOINT")
    return sum(1 for query in queries if not query["sql"].startswith(control))


def _measure_page(client, url: str, repeats: int = 15) -> dict:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    timings = []
    for _ in range(repeats):
        with CaptureQueriesContext(connection) as queries:
            started = time.perf_counter()
            response = client.get(url)
            timings.append((time.perf_counter() - started) * 1000)
        assert response.status_code == 200, (url, response.status_code)
    return {"queries": len(queries), "ms": statistics.median(timings)}


if __name__ == "__main__":
    main()
