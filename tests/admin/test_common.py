import pytest

from core.admin import duration_text, excerpt
from jobs.admin import JobAdmin, inngest_run_url
from videos.models import Video


@pytest.mark.parametrize(
    ("dev", "dashboard", "expected"),
    [
        ("1", "http://127.0.0.1:8288", "http://127.0.0.1:8288/run?runID=01JABC"),
        ("http://dev:8288", "http://dev:8288/", "http://dev:8288/run?runID=01JABC"),
        ("", "https://app.inngest.com", "https://app.inngest.com/env/production/runs/01JABC"),
        (
            "0",
            "https://app.inngest.com/env/staging/",
            "https://app.inngest.com/env/staging/runs/01JABC",
        ),
        # No INNGEST_DASHBOARD_URL: follows INNGEST_DEV, read as everywhere else.
        ("1", "", "http://127.0.0.1:8288/run?runID=01JABC"),
        ("http://dev:8288/", "", "http://dev:8288/run?runID=01JABC"),
        ("false", "", "https://app.inngest.com/env/production/runs/01JABC"),
        ("", "", "https://app.inngest.com/env/production/runs/01JABC"),
    ],
)
def test_inngest_run_url(settings, dev, dashboard, expected):
    settings.INNGEST_DEV = dev
    settings.INNGEST_DASHBOARD_URL = dashboard
    assert inngest_run_url("01JABC") == expected


def test_duration_and_excerpt():
    assert [duration_text(s) for s in (None, 4.4, 754, 3 * 3600 + 65)] == [
        "—",
        "4s",
        "12m 34s",
        "3h 01m",
    ]
    assert excerpt("first line\nsecond") == "first line"
    assert excerpt("x" * 100, 10) == "x" * 9 + "…"
    assert excerpt("") == ""


def test_timeline_tolerates_what_it_does_not_expect():
    admin = JobAdmin(Video, None)
    html = admin.timeline_table(
        Video(
            timeline=[
                {"step": "a", "at": "2025-01-01T10:00:00+00:00", "attempt": 1, "detail": "<b>"},
                "a plain string",
                {"step": "b", "at": "not a time"},
                {"step": "c", "at": "2025-01-01T10:01:30+00:00"},
            ]
        )
    )
    assert "2025-01-01 10:00:00" in html
    assert "&lt;b&gt;" in html  # escaped
    assert "a plain string" in html and "not a time" in html
    assert admin.timeline_table(Video(timeline=[])) == "— (nothing recorded yet)"
