"""Polling: GET /api/videos/{id}/status/ against a bare one-row JSON view, same gunicorn server.

Target: the status endpoint keeps at least 0.8 of the bare view's throughput. The figure is
the median of the ratios of back-to-back pairs (bare, then status, a few seconds each): this
2-core VM drifts by ±15% between runs of a few seconds, and pairing takes most of that drift
out of the ratio. The pairs' lowest and highest ratios are reported with it.

Also the web client's list page, which polls `GET /api/clips/videos` every 5 s with ALL of a
user's videos: its query count (in-process) and median latency (wrk, same server) for a user
with 1,000 videos."""

import statistics
import sys

from bench.common import gunicorn, report, setup_django, wrk

TARGET_RATIO = 0.8


def seed():
    from rest_framework.authtoken.models import Token

    from clips.models import Clip
    from tests.factories import UserFactory, VideoFactory
    from videos.models import Video

    user = UserFactory(username="bench-poller")
    token, _ = Token.objects.get_or_create(user=user)
    video = VideoFactory(owner=user, status=Video.Status.COMPLETED, total_clips=30)
    Clip.objects.bulk_create(
        Clip(video=video, start=i * 40.0, end=i * 40.0 + 30, title=f"c{i}") for i in range(30)
    )
    return video, token.key


def seed_web_client_user(count: int = 1000) -> str:
    """A user with `count` videos in mixed states; returns their API token."""
    import uuid

    from rest_framework.authtoken.models import Token

    from tests.factories import UserFactory
    from videos.models import Video

    user = UserFactory(username="bench-web-client")
    states = ["completed", "completed", "completed", "processing", "failed"]
    videos = []
    for n in range(count):
        video_id, state = uuid.uuid4(), states[n % len(states)]
        videos.append(
            Video(
                id=video_id,
                owner=user,
                youtube_url=f"https://www.youtube.com/watch?v=v{n:010d}",
                youtube_id=f"v{n:010d}",
                s3_key=Video.s3_key_for(video_id),
                status=state,
                total_clips=7 if state == "completed" else 0,
                duration_seconds=600.5 if state == "completed" else None,
                last_error="The clips service refused it." if state == "failed" else "",
            )
        )
    Video.objects.bulk_create(videos, batch_size=500)
    return Token.objects.create(user=user).key


def web_client_list_queries(token: str) -> int:
    """Queries of one warm `GET /api/clips/videos` (the token's user already cached)."""
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    client = Client(HTTP_AUTHORIZATION=f"Token {token}", HTTP_HOST="127.0.0.1")
    assert client.get("/api/clips/videos").status_code == 200
    with CaptureQueriesContext(connection) as queries:
        answer = client.get("/api/clips/videos")
    assert answer.status_code == 200 and len(answer.json()["videos"]) == 1000
    return len(queries)


def main(seconds: int = 3, pairs: int = 7) -> dict:
    setup_django()
    video, token = seed()
    web_token = seed_web_client_user()
    web_queries = web_client_list_queries(web_token)
    rounds = {"bare": [], "status": []}
    with gunicorn(workers=2) as base:
        urls = {
            "bare": (f"{base}/bench/bare/{video.id}/", {}),
            "status": (
                f"{base}/api/videos/{video.id}/status/",
                {"Authorization": f"Token {token}"},
            ),
        }
        wrk(urls["status"][0], headers=urls["status"][1], seconds=2)  # warm up both
        wrk(urls["bare"][0], seconds=2)
        for _ in range(pairs):  # interleaved, so drift on the machine hits both alike
            for name, (url, headers) in urls.items():
                rounds[name].append(wrk(url, headers=headers, seconds=seconds))
        web_list = wrk(
            f"{base}/api/clips/videos",
            headers={"Authorization": f"Token {web_token}"},
            seconds=5,
            connections=4,
        )
    bare, status = (_mean(rounds[name]) for name in ("bare", "status"))
    pairs_run = zip(rounds["bare"], rounds["status"], strict=True)
    pair_ratios = sorted(polled["rps"] / baseline["rps"] for baseline, polled in pairs_run)
    ratio = statistics.median(pair_ratios)
    report(
        "Polling: status endpoint vs bare view (gunicorn, 2 workers, PostgreSQL, wrk -c16)",
        [
            f"bare view:       {bare['rps']:8.0f} req/s  p50 {bare['p50_ms']:.2f} ms"
            f"  p99 {bare['p99_ms']:.2f} ms",
            f"status endpoint: {status['rps']:8.0f} req/s  p50 {status['p50_ms']:.2f} ms"
            f"  p99 {status['p99_ms']:.2f} ms",
            f"ratio (status / bare throughput), median of {pairs} pairs: {ratio:.2f}"
            f"  (pairs {pair_ratios[0]:.2f}-{pair_ratios[-1]:.2f}; target >= {TARGET_RATIO})"
            f"  {'MET' if ratio >= TARGET_RATIO else 'MISSED'}",
            f"web client list, 1,000 videos: {web_queries} queries; median "
            f"{web_list['p50_ms']:.1f} ms, p99 {web_list['p99_ms']:.1f} ms, "
            f"{web_list['rps']:.0f} req/s (wrk -c4)",
        ],
    )
    return {
        "bare": bare,
        "status": status,
        "ratio": ratio,
        "pair_ratios": pair_ratios,
        "met": ratio >= TARGET_RATIO,
        "web_client_list": {"videos": 1000, "queries": web_queries, **web_list},
    }


def _mean(results: list[dict]) -> dict:
    return {key: sum(r[key] for r in results) / len(results) for key in results[0]}


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 3)
