"""The step wrapper: each failure reaches Inngest as the error that makes it do the right thing,
and a failed attempt is written on the job."""

from datetime import datetime, timedelta
from types import SimpleNamespace

import grimp
import inngest
import pytest

from integrations.clips_api import (
    ClipsApiMalformed,
    ClipsApiRefused,
    ClipsApiRetryAfter,
    ClipsApiUnavailable,
)
from jobs.records import JobError
from jobs.steps import run_step
from tests.factories import VideoFactory
from videos.models import Video

STEP = "call-identify-clips-api"


def fake_ctx(attempt: int = 0, max_attempts: int | None = None) -> SimpleNamespace:
    """What `run_step` uses of Inngest's context: the attempt, the request's `max_attempts`
    where the SDK keeps it, and `step.run` running the handler (the SDK's own step machinery is
    exercised end to end in tests/videos/ and tests/exports/)."""
    request = SimpleNamespace(ctx=SimpleNamespace(max_attempts=max_attempts))
    step = SimpleNamespace(
        run=lambda _id, handler: handler(), _execution=SimpleNamespace(_request=request)
    )
    return SimpleNamespace(attempt=attempt, step=step)


def failing(err: Exception):
    def body():
        raise err

    return body


@pytest.fixture(autouse=True)
def retries(settings):
    settings.INNGEST_RETRIES = 2


def test_the_body_output_is_the_step_output():
    assert run_step(fake_ctx(), STEP, lambda: {"clips": 3}) == {"clips": 3}


@pytest.mark.parametrize(
    "err",
    [
        JobError("video 1 does not exist"),
        ClipsApiRefused("identify-clips API answered 422: video is private"),
        ClipsApiMalformed("identify-clips API answer: identified_clips is empty"),
    ],
)
def test_permanent_failures_become_non_retriable_named_by_the_step(err):
    with pytest.raises(inngest.NonRetriableError) as caught:
        run_step(fake_ctx(), STEP, failing(err))
    assert str(caught.value) == f"{STEP}: {err}"
    assert caught.value.__cause__ is err


def memoized_failure(message: str, name: str) -> SimpleNamespace:
    """The context of the request after a step's last attempt failed: Inngest sends the step's
    error back, and `step.run` raises it as a StepError."""

    def run(_id, handler):
        raise inngest.StepError(message=message, name=name, stack=None)

    return SimpleNamespace(attempt=0, step=SimpleNamespace(run=run))


def test_a_step_whose_retries_ran_out_fails_the_run_named_by_the_step():
    ctx = memoized_failure("identify-clips API answered 500", "ClipsApiUnavailable")
    with pytest.raises(inngest.NonRetriableError) as caught:
        run_step(ctx, STEP, failing(AssertionError("not run")))
    assert str(caught.value) == f"{STEP}: identify-clips API answered 500"


def test_a_function_that_finishes_the_job_itself_gets_the_step_error():
    ctx = memoized_failure("render failed", "ClipsApiUnavailable")
    with pytest.raises(inngest.StepError):
        run_step(ctx, STEP, failing(AssertionError("not run")), gave_up=lambda error: None)


def test_retry_after_becomes_inngests_retry_after_with_the_delay():
    err = ClipsApiRetryAfter("identify-clips API answered 429", timedelta(seconds=30))
    with pytest.raises(inngest.RetryAfterError) as caught:
        run_step(fake_ctx(), STEP, failing(err))
    assert str(caught.value) == "identify-clips API answered 429"
    # The SDK keeps a naive local time.
    wait = caught.value.retry_after - datetime.now()
    assert timedelta(seconds=28) < wait <= timedelta(seconds=30)


@pytest.mark.parametrize(
    "err", [ClipsApiUnavailable("identify-clips API answered 502"), RuntimeError("db down")]
)
def test_anything_else_is_raised_as_it_is_so_inngest_retries_the_step(err):
    with pytest.raises(type(err)) as caught:
        run_step(fake_ctx(), STEP, failing(err))
    assert caught.value is err
    assert not isinstance(caught.value, inngest.NonRetriableError)


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("err", "raised"),
    [
        (ClipsApiUnavailable("answered 502: gpu busy"), ClipsApiUnavailable),
        (ClipsApiRetryAfter("answered 503: later", timedelta(seconds=5)), inngest.RetryAfterError),
        (ClipsApiRefused("answered 422: video is private"), inngest.NonRetriableError),
    ],
)
def test_a_failed_attempt_is_recorded_on_the_job(err, raised):
    video = VideoFactory(status=Video.Status.PROCESSING)

    with pytest.raises(raised):
        run_step(fake_ctx(attempt=1), STEP, failing(err), job=(Video, str(video.pk)))

    video.refresh_from_db()
    assert video.last_error == str(err)
    last = video.timeline[-1]
    assert (last["step"], last["attempt"], last["detail"]) == (STEP, 1, f"failed: {err}")


@pytest.mark.django_db
def test_a_job_error_is_not_recorded():
    video = VideoFactory(status=Video.Status.PROCESSING)

    with pytest.raises(inngest.NonRetriableError):
        run_step(fake_ctx(), STEP, failing(JobError("gone")), job=(Video, str(video.pk)))

    video.refresh_from_db()
    assert video.last_error == "" and video.timeline == []


class GaveUp:
    def __init__(self):
        self.errors = []

    def __call__(self, error: str) -> None:
        self.errors.append(error)


@pytest.mark.parametrize(
    "err",
    [
        ClipsApiRefused("answered 400: range too long"),
        ClipsApiMalformed("processed_clips must be a list"),
    ],
)
def test_a_permanent_failure_is_given_up_at_once_and_the_step_returns_it(err):
    gave_up = GaveUp()

    output = run_step(fake_ctx(attempt=0), STEP, failing(err), gave_up=gave_up)

    assert output == {"error": str(err)}
    assert gave_up.errors == [str(err)]


def test_retry_after_waits_until_the_last_attempt_then_is_given_up():
    err = ClipsApiRetryAfter("answered 429", timedelta(seconds=1))
    gave_up = GaveUp()

    with pytest.raises(inngest.RetryAfterError):
        run_step(fake_ctx(attempt=1), STEP, failing(err), gave_up=gave_up)
    assert gave_up.errors == []

    # Raised on the last attempt, the SDK would fail the run before the job is finished.
    assert run_step(fake_ctx(attempt=2), STEP, failing(err), gave_up=gave_up) == {
        "error": "answered 429"
    }
    assert gave_up.errors == ["answered 429"]


def test_a_retriable_failure_is_given_up_on_the_last_attempt_and_still_fails_the_step():
    err = ClipsApiUnavailable("answered 500: encoder crashed")
    gave_up = GaveUp()

    with pytest.raises(ClipsApiUnavailable):
        run_step(fake_ctx(attempt=1), STEP, failing(err), gave_up=gave_up)
    assert gave_up.errors == []

    with pytest.raises(ClipsApiUnavailable):
        run_step(fake_ctx(attempt=2), STEP, failing(err), gave_up=gave_up)
    assert gave_up.errors == ["answered 500: encoder crashed"]


def test_the_requests_max_attempts_decides_the_last_attempt_over_the_retries():
    err = ClipsApiUnavailable("answered 500: encoder crashed")
    gave_up = GaveUp()

    # INNGEST_RETRIES is 2 (3 attempts), but Inngest registered 5 attempts: not the last.
    with pytest.raises(ClipsApiUnavailable):
        run_step(fake_ctx(attempt=2, max_attempts=5), STEP, failing(err), gave_up=gave_up)
    assert gave_up.errors == []

    with pytest.raises(ClipsApiUnavailable):
        run_step(fake_ctx(attempt=4, max_attempts=5), STEP, failing(err), gave_up=gave_up)
    # Without it, the function's own retries decide.
    with pytest.raises(ClipsApiUnavailable):
        run_step(fake_ctx(attempt=4), STEP, failing(err), gave_up=gave_up, retries=4)
    assert gave_up.errors == ["answered 500: encoder crashed"] * 2


def test_a_job_error_is_never_given_up_on():
    gave_up = GaveUp()
    with pytest.raises(inngest.NonRetriableError, match=f"^{STEP}: export 1 does not exist"):
        run_step(fake_ctx(), STEP, failing(JobError("export 1 does not exist")), gave_up=gave_up)
    assert gave_up.errors == []


def test_only_the_edge_imports_the_inngest_sdk():
    graph = grimp.build_graph(
        "core", "videos", "clips", "exports", "outbox", "accounts", include_external_packages=True
    )
    importers = graph.find_modules_that_directly_import("inngest")
    assert importers <= {
        "core.inngest",
        "core.observability",
        "jobs.steps",
        "videos.functions",
        "exports.functions",
        "outbox.functions",
    }
    assert "integrations.clips_api" not in importers
