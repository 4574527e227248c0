"""One job's story in the logs: every line written while Inngest runs a job carries the job's
id (and the run, attempt and step), so `grep <job id>` finds all of it and nothing else."""

import io
import json
import logging

import pytest

from core.logging import json_formatter
from tests.factories import VideoFactory
from tests.fakes.clips_api import Reply
from tests.videos.test_functions import event_for


@pytest.fixture
def log_lines(caplog):
    """The JSON lines production would print, captured from the root logger."""
    caplog.set_level(logging.INFO)
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(json_formatter())
    logging.getLogger().addHandler(handler)

    def lines() -> list[dict]:
        # Each line is one JSON object: json.loads fails on anything else.
        return [json.loads(line) for line in stream.getvalue().splitlines()]

    yield lines
    logging.getLogger().removeHandler(handler)


@pytest.mark.django_db(transaction=True)
def test_one_jobs_lines_all_carry_its_id(executor, fake_clips_api, user, log_lines):
    first, second = VideoFactory(owner=user), VideoFactory(owner=user)
    # The first job's identification fails once, then succeeds on the step's retry.
    fake_clips_api.queue("identify", Reply(status=502, body={"error": "busy"}))
    first_run = executor.run("identify-clips", event_for(first))
    second_run = executor.run("identify-clips", event_for(second))
    assert first_run.status == second_run.status == "completed"

    lines = log_lines()
    of_first = [line for line in lines if line.get("job_id") == str(first.id)]
    # Every line written while a run was served names that run's job, and only that one.
    for run, video in ((first_run, first), (second_run, second)):
        in_run = [line for line in lines if line.get("run_id") == run.run_id]
        assert in_run
        assert {line["job_id"] for line in in_run} == {str(video.id)}
    assert {line["run_id"] for line in of_first} == {first_run.run_id}
    # What grep finds is the same: the id appears in no other line.
    raw = [json.dumps(line) for line in lines]
    assert sum(str(first.id) in line for line in raw) == len(of_first)

    story = [
        (line["message"], line.get("step"), line["attempt"])
        for line in of_first
        if line["message"] != "request_finished"
    ]
    assert story == [
        ("step_finished", "create-video-record", 0),
        ("external_api_call", "call-identify-clips-api", 0),
        ("step_failed", "call-identify-clips-api", 0),
        ("external_api_call", "call-identify-clips-api", 1),
        ("step_finished", "call-identify-clips-api", 1),
        ("step_finished", "save-clips-to-database", 0),
        ("function_finished", None, 0),
    ]
    failed = next(line for line in of_first if line["message"] == "step_failed")
    assert failed["level"] == "warning"
    assert "502" in failed["error"]
    # Each request's lines share its request id; each request's end is logged with it.
    finished = [line for line in of_first if line["message"] == "request_finished"]
    assert len(finished) == first_run.requests
    assert all(line["request_id"] and line["function"] == "identify-clips" for line in of_first)
