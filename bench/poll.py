"""Polling: GET /api/videos/{id}/status/ against a bare one-row JSON view, same gunicorn server.

Target: the status endpoint keeps at least 0.8 of the bare view's throughput."""

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
    video = VideoFactory(owner=user, processing_status=Video.Status.COMPLETED, total_clips=30)
    Clip.objects.bulk_create(
        Clip(video=video, start=i * 40.0, end=i * 40.0 + 30, title=f"c{i}") for i in range(30)
    )
    return video, token.key


def main(seconds: int = 8) -> dict:
    setup_django()
    video, token = seed()
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
        for _ in range(2):  # interleaved, so drift on the machine hits both alike
            for name, (url, headers) in urls.items():
                rounds[name].append(wrk(url, headers=headers, seconds=seconds))
    bare, status = (_mean(rounds[name]) for name in ("bare", "status"))
    ratio = status["rps"] / bare["rps"]
    report(
        "Polling: status endpoint vs bare view (gunicorn, 2 workers, PostgreSQL, wrk -c16)",
        [
            f"bare view:       {bare['rps']:8.0f} req/s  p50 {bare['p50_ms']:.2f} ms"
            f"  p99 {bare['p99_ms']:.2f} ms",
            f"status endpoint: {status['rps']:8.0f} req/s  p50 {status['p50_ms']:.2f} ms"
            f"  p99 {status['p99_ms']:.2f} ms",
            f"ratio (status / bare throughput): {ratio:.2f}  (target >= {TARGET_RATIO})"
            f"  {'MET' if ratio >= TARGET_RATIO else 'MISSED'}",
        ],
    )
    return {"bare": bare, "status": status, "ratio": ratio, "met": ratio >= TARGET_RATIO}


def _mean(results: list[dict]) -> dict:
    return {key: sum(r[key] for r in results) / len(results) for key in results[0]}


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 8)
