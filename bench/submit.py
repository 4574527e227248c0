"""Submission: p50/p99 of POST /api/videos/ with the Inngest event API up, down and hanging.

Target: p99 with the event API down or hanging at most 1.5x p99 with it up."""

import sys
import time
import uuid

import requests

from bench.common import gunicorn, percentile, report, setup_django
from tests.fakes.inngest_api import FakeInngestEventAPI

TARGET_RATIO = 1.5


def main(requests_per_mode: int = 150) -> dict:
    setup_django()
    from rest_framework.authtoken.models import Token

    from tests.factories import UserFactory

    user = UserFactory(username="bench-submitter")
    token, _ = Token.objects.get_or_create(user=user)
    headers = {"Authorization": f"Token {token.key}"}
    results = {}
    with (
        FakeInngestEventAPI() as event_api,
        gunicorn(workers=2, env={"INNGEST_BASE_URL": event_api.url, "INNGEST_DEV": ""}) as base,
    ):
        session = requests.Session()
        _submit_many(session, base, headers, 20)  # warm up
        for mode, switch in (
            ("up", event_api.up),
            ("down", event_api.down),
            ("hanging", event_api.hang),
        ):
            switch()
            latencies = _submit_many(session, base, headers, requests_per_mode)
            results[mode] = {
                "p50_ms": percentile(latencies, 50),
                "p99_ms": percentile(latencies, 99),
                "n": len(latencies),
            }
        event_api.up()
    ratios = {
        mode: results[mode]["p99_ms"] / results["up"]["p99_ms"] for mode in ("down", "hanging")
    }
    met = all(ratio <= TARGET_RATIO for ratio in ratios.values())
    report(
        f"Submission: POST /api/videos/ ({requests_per_mode} sequential requests per mode)",
        [
            *(
                f"event API {mode:8s} p50 {r['p50_ms']:7.2f} ms  p99 {r['p99_ms']:7.2f} ms"
                for mode, r in results.items()
            ),
            *(
                f"ratio p99 {mode} / p99 up: {ratio:.2f}  (target <= {TARGET_RATIO})"
                for mode, ratio in ratios.items()
            ),
            f"{'MET' if met else 'MISSED'}",
        ],
    )
    return {"modes": results, "ratios": ratios, "met": met}


def _submit_many(session, base, headers, count) -> list[float]:
    latencies = []
    for _ in range(count):
        video_id = uuid.uuid4().hex[:11]
        started = time.perf_counter()
        response = session.post(
            f"{base}/api/videos/",
            json={"youtube_url": f"https://youtu.be/{video_id}", "prompt": "bench"},
            headers=headers,
            timeout=30,
        )
        latencies.append((time.perf_counter() - started) * 1000)
        if response.status_code != 202:
            raise RuntimeError(f"submission answered {response.status_code}: {response.text}")
    return latencies


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 150)
