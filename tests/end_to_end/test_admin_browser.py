"""An operator's round trip in a real headless Chromium at a 1,366 px laptop viewport, the
narrowest common one: log in, open the dashboard, the lists and a job's page, and run a failed
job again, both from its page and from the list. Nothing may overflow sideways: every dashboard
card and list fits its box (scrollWidth <= clientWidth). Screenshots land in artifacts/ (CI
keeps them)."""

import os
import shutil
from datetime import timedelta
from pathlib import Path

import pytest
from django.conf import settings
from django.utils import timezone

from exports.models import Export
from jobs.records import job_fail, job_step_failed
from outbox.services import event_record
from tests.factories import ExportFactory, VideoFactory
from videos.models import Video
from videos.services import video_start_for_event, video_submit

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
ARTIFACTS = Path(settings.BASE_DIR) / "artifacts"
LAUNCH_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
VIEWPORT = {"width": 1366, "height": 768}
STEP = "call-identify-clips-api"
UNREACHABLE = "identify-clips API unreachable: connection refused (http://127.0.0.1:8001)"
# What errors look like at their worst: long, one unbreakable word.
LONG_WORD_ERROR = (
    "process-clips API at http://clips.internal:8080/process-clips answered 422 Unprocessable: "
    + "x" * 40
    + "/"
    + "really-long-object-key-without-any-spaces-" * 4
)

pytestmark = [
    pytest.mark.browser,
    # CI installs Chromium (.ci/run), so there a missing browser fails the test instead.
    pytest.mark.skipif(
        not Path(CHROMIUM).exists() and not os.environ.get("CI"),
        reason=f"no Chromium binary at {CHROMIUM} (apt-get install chromium; .ci/run does)",
    ),
]

# Every box that must not scroll sideways: the dashboard's cards, a list's table box, the page.
OVERFLOWS = """
(selector) => [...document.querySelectorAll(selector), document.documentElement]
  .filter((box) => box.scrollWidth > box.clientWidth)
  .map((box) => `${box.id || box.className || box.tagName}: ${box.scrollWidth}>${box.clientWidth}`)
"""


def failed_video(owner, youtube_id):
    """A video whose one run failed after Inngest tried its API call four times, written by the
    services its function's steps call."""
    video = video_submit(owner=owner, youtube_url=f"https://youtu.be/{youtube_id}")
    job_id, run_id = str(video.pk), f"01JRUN{youtube_id.upper()}"
    data = {"videoId": job_id}
    video_start_for_event(event_id=video.run_event_id, data=data, run_id=run_id, attempt=0)
    for attempt in range(4):
        job_step_failed(model=Video, job_id=job_id, step=STEP, attempt=attempt, error=UNREACHABLE)
    # What the function's on_failure reads from `inngest/function.failed`.
    error = f"{STEP}: {UNREACHABLE}"
    job_fail(model=Video, job_id=job_id, run_id=run_id, event_id="", error=error, failed="failed")
    return Video.objects.get(pk=video.pk)


def assert_fits(page, selector):
    overflowing = page.evaluate(OVERFLOWS, selector)
    if overflowing:
        page.screenshot(path=str(ARTIFACTS / "admin-overflow.png"), full_page=True)
    assert overflowing == [], f"{page.url}: {overflowing} (see artifacts/admin-overflow.png)"


def test_operator_at_1400px_sees_everything_and_runs_failed_jobs_again(
    live_server, operator, fake_inngest, monkeypatch
):
    sync_api = pytest.importorskip("playwright.sync_api")
    # Playwright's sync API runs an event loop in this thread; the ORM calls below are still
    # plain synchronous code.
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    fake_inngest.up()
    failed = failed_video(operator, "failedvideo")
    other_failed = failed_video(operator, "otherfailed")
    completed = VideoFactory(owner=operator, status=Video.Status.COMPLETED)
    for _ in range(3):
        ExportFactory(
            video=completed, owner=operator, status=Export.Status.FAILED, last_error=LONG_WORD_ERROR
        )
    stuck = VideoFactory(owner=operator, youtube_id="stuckvideo0", status="processing")
    Video.objects.filter(pk=stuck.pk).update(updated_at=timezone.now() - timedelta(hours=2))
    # Inngest is down when this one is submitted: its event stays in the outbox.
    fake_inngest.down()
    waiting = VideoFactory(owner=operator, youtube_id="waitingvid0")
    event_record(name="video/identify.clips", data={"videoId": str(waiting.pk)}, job=waiting)
    fake_inngest.up()
    ARTIFACTS.mkdir(exist_ok=True)

    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=LAUNCH_ARGS)
        try:
            page = browser.new_page(viewport=VIEWPORT)
            page.goto(f"{live_server.url}/admin/login/?next=/admin/dashboard/")
            page.fill("input[name=username]", "operator")
            page.fill("input[name=password]", "operator-password-1")
            page.click("input[type=submit]")

            # The dashboard: every card holds its tables.
            page.wait_for_selector("#dashboard-videos")
            assert "identify-clips API unreachable" in page.inner_text("#dashboard-videos")
            assert "Undelivered events: 1" in page.inner_text("#dashboard-events")
            assert_fits(page, ".korai-dashboard section, .korai-dashboard td")
            page.screenshot(path=str(ARTIFACTS / "admin-dashboard.png"), full_page=True)

            # The lists: status, the start of the error and delivery, without sideways scroll.
            page.goto(f"{live_server.url}/admin/videos/video/")
            assert_fits(page, "#changelist .results")
            row = page.inner_text(f"#result_list tr:has(a:text('{waiting.youtube_id}'))")
            assert "pending" in row and "event not delivered: Inngest event API unreachable" in row
            assert page.is_visible("#result_list th.column-error_start")
            page.screenshot(path=str(ARTIFACTS / "admin-videos.png"), full_page=True)

            page.goto(f"{live_server.url}/admin/exports/export/")
            assert_fits(page, "#changelist .results")
            # The error's start in the list, the whole text one click away.
            first_error = page.locator("#result_list td.field-error_start details").first
            assert not first_error.locator(".korai-error-full").is_visible()
            first_error.locator("summary").click()
            assert first_error.locator(".korai-error-full").is_visible()
            assert_fits(page, "#changelist .results")
            page.screenshot(path=str(ARTIFACTS / "admin-exports.png"), full_page=True)

            page.goto(f"{live_server.url}/admin/outbox/outboxevent/")
            assert_fits(page, "#changelist .results")
            assert page.is_visible("#result_list th.column-delivery")
            page.screenshot(path=str(ARTIFACTS / "admin-outbox.png"), full_page=True)

            # A pending job's page says why at the top.
            page.goto(f"{live_server.url}/admin/videos/video/{waiting.pk}/change/")
            notice = page.inner_text("#job-notice")
            assert "event not delivered: Inngest event API unreachable" in notice
            assert "python manage.py resend_events" in notice
            first_fieldset = page.locator("fieldset").first.bounding_box()
            assert page.locator("#job-notice").bounding_box()["y"] < first_fieldset["y"]
            assert page.locator("#run-again").count() == 0  # nothing failed
            page.screenshot(path=str(ARTIFACTS / "admin-pending-video.png"), full_page=True)

            # A failed job's page: a readable timeline whose runs match "attempts", and the
            # "Run again" button.
            page.goto(f"{live_server.url}/admin/videos/video/{failed.pk}/change/")
            content = page.inner_text("#content")
            assert "HTTPConnectionPool" not in content
            assert "connection refused (http://127.0.0.1:8001)" in content
            timeline = page.locator(".korai-timeline")
            runs = timeline.locator("tbody td:nth-child(4)").all_inner_texts()
            tries = timeline.locator("tbody td:nth-child(5)").all_inner_texts()
            assert set(runs) == {"1"}  # Attempts: 1
            assert tries == ["1/4", "1/4", "2/4", "3/4", "4/4", "—"]
            assert timeline.inner_text().count(UNREACHABLE) == 2  # first failure, on-failure
            assert "same as above" in timeline.inner_text()
            assert page.locator(".field-attempts_count .readonly").inner_text() == "1"
            assert_fits(page, "#content-main")
            page.screenshot(path=str(ARTIFACTS / "admin-failed-video.png"), full_page=True)

            page.click("#run-again")
            page.wait_for_selector("ul.messagelist")
            assert "Ran 1 job(s) again." in page.inner_text("ul.messagelist")
            assert page.locator("#run-again").count() == 0  # pending now
            page.screenshot(path=str(ARTIFACTS / "admin-ran-again.png"), full_page=True)

            # The list's action does the same for a selection.
            page.goto(f"{live_server.url}/admin/dashboard/")
            page.click("#dashboard-videos >> text=Recent failures")
            page.wait_for_selector("#result_list")
            assert "status__exact=failed" in page.url
            rows = page.inner_text("#result_list")
            assert other_failed.youtube_id in rows and failed.youtube_id not in rows
            page.check(f"input.action-select[value='{other_failed.pk}']")
            page.select_option("select[name=action]", "rerun")
            page.click("button[name=index]")
            page.wait_for_selector("ul.messagelist")
            assert "Ran 1 job(s) again." in page.inner_text("ul.messagelist")

            # The API docs render from the project's own static files, with no network.
            page.goto(f"{live_server.url}/api/docs/")
            page.wait_for_selector(".swagger-ui .opblock", timeout=20_000)
            page.screenshot(path=str(ARTIFACTS / "api-docs.png"))
        finally:
            browser.close()

    for video in (failed, other_failed):
        video.refresh_from_db()
        assert video.status == Video.Status.PENDING
        assert f"video/identify.clips:{video.pk}:2" in fake_inngest.event_ids()
