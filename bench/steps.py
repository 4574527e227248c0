"""Durable-step overhead: an identify-clips run driven through /api/inngest (signed HTTP, step
memos, one request per step, as Inngest does) against the same services called in-process.

Both sides call the same instantly answering fake clips API (50 clips) over HTTP and write the
same rows; the difference is the durable-execution machinery. Target: Korai's own handling of
the durable run (Django's Server-Timing) at most 1.3x in-process.

Step state: one more run gets an identify answer of 100 clips with long transcripts (over 5 MB)
and reports the largest request body /api/inngest received: big answers stay out of the step
memos, which Inngest sends back with every request."""

import statistics
import sys
import time

from bench.common import gunicorn, identify_event, report, setup_django

TARGET_RATIO = 1.3
CLIPS = 50
BIG_CLIPS = 100


def main(runs: int = 15) -> dict:
    setup_django()
    from tests.fakes.clips_api import FakeClipsAPI

    with FakeClipsAPI(clips=CLIPS, token="bench-clips-token") as clips_api:
        env = {
            "CLIPS_API_URL": clips_api.identify_url,
            "PROCESS_CLIPS_API_URL": clips_api.process_url,
            "CLIPS_API_TOKEN": clips_api.token,
            "INNGEST_DEV": "",
        }
        _configure_this_process(env)
        owner = _owner()
        # /api/inngest as production serves it: the steps pool's role (korai/urls_steps.py, its
        # middleware and pooled database connections).
        with gunicorn(workers=2, env={**env, "KORAI_ROLE": "steps"}) as base:
            executor = _timed_executor(base_url=base)
            _identify_durably(_new_video(owner), executor)  # warm up the workers
            _identify_in_process(_new_video(owner))
            in_process, durable, server = [], [], []
            for _ in range(runs):  # interleaved, so drift on the machine hits both alike
                in_process.append(_timed(_identify_in_process, _new_video(owner)))
                executor.server_ms = 0.0
                durable.append(_timed(_identify_durably, _new_video(owner), executor))
                server.append(executor.server_ms)
            state = _large_answer_state(clips_api, _new_video(owner), executor)
    in_ms = statistics.median(in_process)
    durable_ms, server_ms = statistics.median(durable), statistics.median(server)
    # Ratios of back-to-back pairs, then their median: drift on the machine between pairs
    # (this VM's speed moves by ±15% over seconds) cancels within each pair.
    ratio = statistics.median(d / i for d, i in zip(durable, in_process, strict=True))
    server_ratios = sorted(s / i for s, i in zip(server, in_process, strict=True))
    server_ratio = statistics.median(server_ratios)
    report(
        f"Durable-step overhead: identify-clips with {CLIPS} clips (median of {runs} runs)",
        [
            f"services in-process:                {in_ms:7.1f} ms",
            f"through /api/inngest, end to end:   {durable_ms:7.1f} ms"
            "  (4 signed HTTP requests from the Python test executor)",
            f"  of which Django handled requests: {server_ms:7.1f} ms  (Server-Timing)",
            f"ratio end to end / in-process, median of the pairs' ratios: {ratio:.2f}",
            f"ratio Korai's own handling / in-process, median of the pairs' ratios: "
            f"{server_ratio:.2f} (quartiles {_quartiles(server_ratios)}; target <= "
            f"{TARGET_RATIO})  {'MET' if server_ratio <= TARGET_RATIO else 'MISSED'}",
            f"step state: identify answer of {BIG_CLIPS} clips, {state['answer_bytes']:,} bytes; "
            f"largest /api/inngest request body {state['largest_request_bytes']:,} bytes",
        ],
    )
    return {
        "in_process_ms": in_ms,
        "durable_ms": durable_ms,
        "server_ms": server_ms,
        "ratio": ratio,
        "server_ratio": server_ratio,
        "step_state": state,
    }


def _quartiles(ordered: list[float]) -> str:
    low, _, high = statistics.quantiles(ordered, n=4, method="inclusive")
    return f"{low:.2f}-{high:.2f}"


def _large_answer_state(clips_api, video, executor) -> dict:
    """One durable run whose identify answer is over 5 MB: the largest request body sent to
    /api/inngest during it."""
    import json

    from tests.fakes.clips_api import Reply

    clips_api.clips = BIG_CLIPS
    answer = clips_api.identify_answer({"s3_key_yt": video.s3_key})
    for i, clip in enumerate(answer["identified_clips"]):
        clip["transcript"] = f"Sentence {i} of a long talk, spoken slowly. " * 1200
    clips_api.queue("identify", Reply(body=answer))
    clips_api.clips = CLIPS
    executor.largest_body_bytes = 0
    run = executor.run("identify-clips", identify_event(video))
    assert run.status == "completed", run
    return {
        "answer_bytes": len(json.dumps(answer).encode()),
        "largest_request_bytes": executor.largest_body_bytes,
    }


def _timed_executor(**kwargs):
    from devtools.executor import InngestExecutor

    class TimedExecutor(InngestExecutor):
        """Adds up the Server-Timing of every request of a run."""

        server_ms = 0.0

        def post(self, body, **kw):
            response = super().post(body, **kw)
            timing = response.headers.get("Server-Timing", "app;dur=0")
            self.server_ms += float(timing.split("dur=")[1])
            return response

    return TimedExecutor(**kwargs)


def _configure_this_process(env: dict) -> None:
    from django.conf import settings

    settings.CLIPS_API_URL = env["CLIPS_API_URL"]
    settings.PROCESS_CLIPS_API_URL = env["PROCESS_CLIPS_API_URL"]
    settings.CLIPS_API_TOKEN = env["CLIPS_API_TOKEN"]


def _owner():
    from tests.factories import UserFactory

    return UserFactory(username="bench-steps")


def _new_video(owner):
    """Created before the clock starts: only identification is measured."""
    from tests.factories import VideoFactory

    return VideoFactory(owner=owner)


def _identify_in_process(video) -> None:
    """The same service calls as the function's three steps, without Inngest."""
    from integrations import clips_api
    from jobs.records import job_start
    from videos.models import Video
    from videos.services import identify_answer_store, video_complete_from_answer

    job_start(
        model=Video,
        job_id=str(video.id),
        run_id="in-process",
        step="create-video-record",
        attempt=0,
    )
    answer = clips_api.identify_clips(
        youtube_url=video.youtube_url, s3_key=video.s3_key, prompt=video.prompt
    )
    identify_answer_store(video_id=str(video.id), run_id="in-process", answer=answer)
    saved = video_complete_from_answer(video_id=str(video.id), attempt=0)
    assert saved.total_clips == CLIPS


def _identify_durably(video, executor) -> None:
    run = executor.run("identify-clips", identify_event(video))
    assert run.status == "completed" and run.output["totalClips"] == CLIPS, run


def _timed(work, *args) -> float:
    started = time.perf_counter()
    work(*args)
    return (time.perf_counter() - started) * 1000


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 15)
