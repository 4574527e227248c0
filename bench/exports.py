"""Calls to the processing API per export, and the time to render an export.

Exports of 1, 5 and 20 clips run through /api/inngest (signed HTTP, the executor in
devtools/executor.py) against the fake processing API, which names its outputs by position as
the real service does, writes them to a local S3 server (moto, over HTTP), and takes a fixed
`LATENCY` per call: calls are what the GPU bills. Korai copies each output to the export's own
key in the next step (`copy-rendered-clips`).

Side by side, the same clips rendered one processing call per clip (the naive way)
(here: one single-clip export per clip, in sequence). Target: 1 call per export, whatever its
size."""

import logging
import time

from bench.common import gunicorn, process_event, report, setup_django

LATENCY = 0.5
SIZES = (1, 5, 20)


def main(latency: float = LATENCY) -> dict:
    setup_django()
    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # moto's request log
    from tests.fakes.clips_api import FakeClipsAPI
    from tests.fakes.s3 import REGION, LocalS3

    store = LocalS3().start()
    bucket = "korai-bench"
    store.create_bucket(bucket)
    try:
        with FakeClipsAPI(
            token="bench-clips-token", store=lambda k, b: store.put(bucket, k, b)
        ) as api:
            api.process_seconds = latency
            env = {
                "CLIPS_API_URL": api.identify_url,
                "PROCESS_CLIPS_API_URL": api.process_url,
                "CLIPS_API_TOKEN": api.token,
                "CLIPS_API_READ_TIMEOUT_SECONDS": "60",
                "INNGEST_DEV": "",
                "AWS_S3_BUCKET_NAME": bucket,
                "AWS_REGION": REGION,
                "AWS_S3_ENDPOINT_URL": store.url,
                "AWS_ACCESS_KEY_ID": "bench",
                "AWS_SECRET_ACCESS_KEY": "bench",
            }
            with gunicorn(workers=2, env=env) as base:
                from devtools.executor import InngestExecutor

                executor = InngestExecutor(base_url=base)
                owner = _owner()
                # Warm up both workers: each builds its boto3 client (half a second) on its
                # first copy, and the copy step may land on either.
                _render(executor, api, [_export(owner, 1) for _ in range(4)])
                results = {}
                for size in SIZES:
                    one = _render(executor, api, [_export(owner, size)])
                    per_clip = _render(executor, api, [_export(owner, 1) for _ in range(size)])
                    results[size] = {
                        "one_export_calls": one["calls"],
                        "one_export_s": one["seconds"],
                        "per_clip_calls": per_clip["calls"],
                        "per_clip_s": per_clip["seconds"],
                        "ratio": one["seconds"] / per_clip["seconds"],
                        "objects": one["objects"],
                    }
                    executor.session.close()
    finally:
        store.stop()
    report(
        f"Exports: processing calls and render time (fixed {latency:g} s per call)",
        [
            "| clips | calls, one export | time | calls, one per clip | time | ratio |",
            "|---|---|---|---|---|---|",
            *(
                f"| {size} | {r['one_export_calls']} | {r['one_export_s']:.2f} s | "
                f"{r['per_clip_calls']} | {r['per_clip_s']:.2f} s | {r['ratio']:.2f} |"
                for size, r in results.items()
            ),
            "1 call per export for every size: "
            + ("MET" if all(r["one_export_calls"] == 1 for r in results.values()) else "MISSED"),
        ],
    )
    return {"latency_s": latency, "sizes": results}


def _owner():
    from tests.factories import UserFactory

    return UserFactory(username=f"bench-exports-{time.time_ns()}")


def _export(owner, size: int):
    """A completed video with `size` clips, and an export of all of them."""
    from tests.factories import ClipFactory, ExportFactory, VideoFactory
    from videos.models import Video

    video = VideoFactory(owner=owner, status=Video.Status.COMPLETED)
    ranges = [(40.0 * i, 40.0 * i + 30) for i in range(size)]
    clips = [ClipFactory(video=video, start=s, end=e) for s, e in ranges]
    return ExportFactory(
        video=video,
        owner=owner,
        aspect_ratio="9:16",
        selected_ranges=[{"start": c.start, "end": c.end, "clip_id": str(c.id)} for c in clips],
    )


def _render(executor, api, exports) -> dict:
    """Run process-clips for each export in turn; calls made, seconds, objects written."""
    from exports.models import Export

    before = api.count("process")
    started = time.perf_counter()
    for export in exports:
        run = executor.run("process-clips", process_event(export))
        assert run.status == "completed", run
    seconds = time.perf_counter() - started
    rendered = [Export.objects.get(pk=e.pk) for e in exports]
    assert all(e.status == Export.Status.COMPLETED for e in rendered), rendered
    keys = [c.s3_key for e in rendered for c in e.exported_clips.all()]
    return {
        "calls": api.count("process") - before,
        "seconds": seconds,
        "objects": len(set(keys)),
    }
