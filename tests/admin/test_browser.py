"""An operator's round trip in a real headless Chromium: log in, open the dashboard, follow it to
the failed videos, run one again. Screenshots land in artifacts/ (CI keeps them)."""

import os
import shutil
from pathlib import Path

import pytest
from django.conf import settings

from outbox.services import event_record
from tests.factories import UserFactory, VideoFactory
from videos.models import Video

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

pytestmark = [
    pytest.mark.browser,
    # CI installs Chromium (.ci/run), so there a missing browser fails the test instead.
    pytest.mark.skipif(
        not Path(CHROMIUM).exists() and not os.environ.get("CI"),
        reason=f"no Chromium binary at {CHROMIUM} (apt-get install chromium; .ci/run does)",
    ),
]


@pytest.fixture
def operator(transactional_db):
    return UserFactory(
        username="operator",
        password="operator-password-1",
        is_staff=True,
        is_superuser=True,
    )


def test_operator_finds_a_failed_video_and_runs_it_again(
    live_server, operator, fake_inngest, monkeypatch
):
    sync_api = pytest.importorskip("playwright.sync_api")
    # Playwright's sync API runs an event loop in this thread; the ORM calls below are still
    # plain synchronous code.
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    failed = VideoFactory(
        owner=operator,
        processing_status=Video.Status.FAILED,
        attempts=3,
        inngest_run_id="01JBROWSERTESTRUN",
        last_error="Clips API answered 422: the video is private",
        timeline=[
            {"step": "create-video-record", "at": "2025-01-01T10:00:00+00:00", "attempt": 1},
            {
                "step": "call-identify-clips-api",
                "at": "2025-01-01T10:00:02+00:00",
                "attempt": 3,
                "detail": "422 from the clips API",
            },
        ],
    )
    event_record(name="video/identify.clips", data={"videoId": str(failed.pk)}, video=failed)
    completed = VideoFactory(owner=operator, processing_status=Video.Status.COMPLETED)
    ARTIFACTS.mkdir(exist_ok=True)

    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=LAUNCH_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 900})
            page.goto(f"{live_server.url}/admin/login/?next=/admin/dashboard/")
            page.fill("input[name=username]", "operator")
            page.fill("input[name=password]", "operator-password-1")
            page.click("input[type=submit]")

            page.wait_for_selector("#dashboard-videos")
            assert "Clips API answered 422" in page.inner_text("#dashboard-videos")
            page.screenshot(path=str(ARTIFACTS / "admin-dashboard.png"), full_page=True)

            page.click("#dashboard-videos >> text=Recent failures")
            page.wait_for_selector("#result_list")
            assert "processing_status__exact=failed" in page.url
            rows = page.inner_text("#result_list")
            assert failed.youtube_id in rows and completed.youtube_id not in rows

            page.screenshot(path=str(ARTIFACTS / "admin-failed-videos.png"), full_page=True)
            list_url = page.url

            page.click(f"#result_list >> text={failed.youtube_id}")
            page.wait_for_selector("text=call-identify-clips-api")
            assert "01JBROWSERTESTRUN" in page.inner_text("#content")
            page.screenshot(path=str(ARTIFACTS / "admin-video.png"), full_page=True)
            page.goto(list_url)

            page.check(f"input.action-select[value='{failed.pk}']")
            page.select_option("select[name=action]", "rerun")
            page.click("button[name=index]")
            page.wait_for_selector("ul.messagelist")
            assert "Ran 1 job(s) again." in page.inner_text("ul.messagelist")
            page.screenshot(path=str(ARTIFACTS / "admin-rerun.png"), full_page=True)
        finally:
            browser.close()

    failed.refresh_from_db()
    assert failed.processing_status == Video.Status.PENDING
    assert f"video/identify.clips:{failed.pk}:2" in fake_inngest.event_ids()
