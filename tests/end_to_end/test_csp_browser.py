"""The Content-Security-Policy in a real headless Chromium: the admin's pages and the API docs
work under it, and the browser reports no violation."""

import pytest
from drf_spectacular.settings import spectacular_settings

from tests.end_to_end.test_admin_browser import CHROMIUM, LAUNCH_ARGS, pytestmark  # noqa: F401
from tests.factories import ExportFactory, UserFactory, VideoFactory
from videos.models import Video

# Every violation the page sees, reported to the console by a listener installed before any
# script of the page runs.
REPORT_VIOLATIONS = """
document.addEventListener("securitypolicyviolation", (e) => {
  console.error("CSP violation: " + e.violatedDirective + " " + e.blockedURI);
});
"""


def test_admin_and_docs_run_without_csp_violations(live_server, transactional_db, monkeypatch):
    sync_api = pytest.importorskip("playwright.sync_api")
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    operator = UserFactory(
        username="operator", password="operator-password-1", is_staff=True, is_superuser=True
    )
    video = VideoFactory(owner=operator, status=Video.Status.COMPLETED)
    ExportFactory(video=video)
    messages: list[str] = []

    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=LAUNCH_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 900})
            page.add_init_script(REPORT_VIOLATIONS)
            page.on("console", lambda message: messages.append(message.text))
            page.goto(f"{live_server.url}/admin/login/?next=/admin/dashboard/")
            page.fill("input[name=username]", "operator")
            page.fill("input[name=password]", "operator-password-1")
            page.click("input[type=submit]")
            page.wait_for_selector("#dashboard-videos")

            for path in (
                "/admin/",
                "/admin/videos/video/",
                f"/admin/videos/video/{video.pk}/change/",
                "/admin/exports/export/",
                "/admin/accounts/user/add/",
            ):
                page.goto(f"{live_server.url}{path}")
                page.wait_for_load_state("load")
            # The admin's scripts ran: the "select all" checkbox of a change list works.
            page.goto(f"{live_server.url}/admin/videos/video/")
            page.check("#action-toggle")
            assert page.is_checked(f"input.action-select[value='{video.pk}']")

            assert violations(messages) == []

            # Offline, the docs render only from self-hosted assets (drf-spectacular-sidecar).
            if not str(spectacular_settings.SWAGGER_UI_DIST).startswith("http"):
                page.goto(f"{live_server.url}/api/docs/")
                page.wait_for_selector(".swagger-ui .info", timeout=30_000)
                assert "Korai API" in page.inner_text(".swagger-ui .info")
                assert violations(messages) == []
                page.goto(f"{live_server.url}/api/redoc/")
                page.wait_for_selector(".api-info h1", timeout=30_000)
                assert "Korai API" in page.inner_text(".api-info h1")
                assert violations(messages) == []
        finally:
            browser.close()


def violations(messages: list[str]) -> list[str]:
    return [m for m in messages if "Content Security Policy" in m or "CSP violation" in m]
