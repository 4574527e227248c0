"""The job admin base (`jobs/admin.py`), through the videos' and exports' pages: why a pending
job waits, the run-again and cancel buttons and who may press them, attempts explained, the link
to the Inngest run, the timeline."""

import re

import pytest
from django.urls import reverse

from exports.models import Export
from exports.services import export_cancel, export_create, export_rerun, export_start_for_event
from jobs.admin import JobAdmin, inngest_run_url
from jobs.records import job_fail, job_step_failed
from tests.admin_pages import field_text
from tests.factories import UserFactory
from videos.models import Video
from videos.services import video_cancel, video_rerun, video_start_for_event, video_submit

pytestmark = pytest.mark.django_db(transaction=True)


def test_a_pending_job_says_why_in_the_list_and_at_the_top_of_its_page(admin_client, jobs):
    # The partial export's second event could not be sent (the fixture's Inngest was down).
    export = jobs["export"]
    export.status = "pending"
    export.save(update_fields=["status"])
    listing = admin_client.get(reverse("admin:exports_export_changelist")).content.decode()
    assert "event not delivered: Inngest event API unreachable: connection refused" in listing

    page = admin_client.get(reverse("admin:exports_export_change", args=[export.pk]))
    html = page.content.decode()
    notice = html.index('id="job-notice"')
    assert notice < html.index("<fieldset")  # above everything else on the page
    assert "event not delivered: Inngest event API unreachable" in html[notice : notice + 600]
    assert "run `python manage.py resend_events`" in html[notice : notice + 600]
    assert 'id="run-again"' not in html  # it did not fail: nothing to run again


def test_a_failed_jobs_page_runs_it_again(admin_client, jobs, fake_inngest):
    fake_inngest.up()  # the fixture left it down
    failed = jobs["failed"]
    url = reverse("admin:videos_video_change", args=[failed.pk])
    html = admin_client.get(url).content.decode()
    run_again = reverse("admin:videos_video_run_again", args=[failed.pk])
    assert f'action="{run_again}"' in html and 'id="run-again"' in html

    assert admin_client.get(run_again).status_code == 405  # a GET never runs anything
    response = admin_client.post(run_again, follow=True)

    assert response.redirect_chain == [(url, 302)]
    assert "Ran 1 job(s) again." in response.content.decode()
    failed.refresh_from_db()
    assert failed.status == "pending"
    assert f"video/identify.clips:{failed.pk}:2" in fake_inngest.event_ids()


def test_with_the_development_executor_run_again_says_it_will_take_the_event(
    admin_client, jobs, fake_inngest, settings
):
    # make run without a Dev Server: the fixture's Inngest stays down, as nothing listens there.
    settings.KORAI_DEV_EXECUTOR_RUNNING = True
    failed = jobs["failed"]
    url = reverse("admin:videos_video_change", args=[failed.pk])
    posts = fake_inngest.posts

    response = admin_client.post(
        reverse("admin:videos_video_run_again", args=[failed.pk]), follow=True
    )

    html = response.content.decode()
    assert "Ran 1 job(s) again." in html
    notice = html[html.index('id="job-notice"') - 30 : html.index('id="job-notice"') + 200]
    assert "Pending: waiting for the development executor to take its event." in notice
    assert "korai-notice" not in notice  # a quiet line, not a warning banner
    assert "unreachable" not in html and "resend_events" not in html
    listing = admin_client.get(reverse("admin:videos_video_changelist")).content.decode()
    assert "waiting for the development executor" in listing
    assert response.redirect_chain == [(url, 302)]
    assert fake_inngest.posts == posts  # nothing tried to reach an Inngest that is not there


def test_run_again_needs_the_change_permission(client, jobs):
    from django.contrib.auth.models import Permission

    from tests.factories import UserFactory

    viewer = UserFactory(is_staff=True)
    viewer.user_permissions.add(Permission.objects.get(codename="view_video"))
    client.force_login(viewer)
    failed = jobs["failed"]
    html = client.get(reverse("admin:videos_video_change", args=[failed.pk])).content.decode()
    assert 'id="run-again"' not in html
    client.post(reverse("admin:videos_video_run_again", args=[failed.pk]))
    failed.refresh_from_db()
    assert failed.status == "failed"


def test_attempts_are_explained_where_they_are_shown(admin_client, jobs):
    listing = admin_client.get(reverse("admin:videos_video_changelist")).content.decode()
    assert 'title="Attempts: the Inngest runs started for this job' in listing
    page = admin_client.get(
        reverse("admin:videos_video_change", args=[jobs["failed"].pk])
    ).content.decode()
    assert "Within one run Inngest tries a failing step up to 4 times" in page


def test_an_active_jobs_page_cancels_it(admin_client, jobs, fake_inngest):
    fake_inngest.up()
    stuck = jobs["stuck"]  # processing
    url = reverse("admin:videos_video_change", args=[stuck.pk])
    cancel = reverse("admin:videos_video_cancel", args=[stuck.pk])
    html = admin_client.get(url).content.decode()
    assert f'action="{cancel}"' in html and 'id="cancel-job"' in html

    assert admin_client.get(cancel).status_code == 405  # a GET never cancels anything
    response = admin_client.post(cancel, follow=True)

    assert response.redirect_chain == [(url, 302)]
    assert "Cancelled 1 job(s)." in response.content.decode()
    stuck.refresh_from_db()
    assert stuck.status == "cancelled"
    assert f"video/identify.cancelled:{stuck.pk}:1" in fake_inngest.event_ids()
    html = admin_client.get(url).content.decode()
    assert 'id="cancel-job"' not in html and 'id="run-again"' in html  # now it can run again
    assert (
        'id="cancel-job"'
        not in admin_client.get(
            reverse("admin:videos_video_change", args=[jobs["completed"].pk])
        ).content.decode()
    )


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


def test_a_run_of_the_development_executor_links_to_no_dashboard(
    admin_client, fake_inngest, settings
):
    settings.INNGEST_DEV = "1"
    fake_inngest.up()
    video = video_submit(owner=UserFactory(), youtube_url="https://youtu.be/dQw4w9WgXcQ")
    data = {"videoId": str(video.pk)}
    video_start_for_event(event_id=event_of(video), data=data, run_id="01JDEVRUN", attempt=0)
    url = reverse("admin:videos_video_change", args=[video.pk])
    assert "/run?runID=01JDEVRUN" in admin_client.get(url).content.decode()

    settings.KORAI_DEV_EXECUTOR_RUNNING = True
    html = admin_client.get(url).content.decode()
    assert "01JDEVRUN (run by the development executor)" in html
    assert "runID=" not in html


def test_a_jobs_times_are_shown_to_the_second(admin_client, fake_inngest):
    fake_inngest.up()
    video = video_submit(owner=UserFactory(), youtube_url="https://youtu.be/dQw4w9WgXcQ")
    data = {"videoId": str(video.pk)}
    video = video_start_for_event(event_id=event_of(video), data=data, run_id="01JRUNA", attempt=0)
    video = video_cancel(video=video)
    html = admin_client.get(reverse("admin:videos_video_change", args=[video.pk])).content.decode()
    for field in ("created_at", "started_at", "finished_at"):
        assert field_text(html, field) == getattr(video, field).strftime("%Y-%m-%d %H:%M:%S")


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


def timeline_columns(admin_client, job) -> list[tuple[str, str, str]]:
    """(step, run, try) of each row of the timeline on the job's admin page."""
    opts = job._meta
    html = admin_client.get(
        reverse(f"admin:{opts.app_label}_{opts.model_name}_change", args=[job.pk])
    ).content.decode()
    body = html[html.index('<table class="korai-timeline">') :]
    body = body[body.index("<tbody>") : body.index("</tbody>")]
    rows = [re.findall(r"<td>(.*?)</td>", row, re.S) for row in re.findall(r"<tr>(.*?)</tr>", body)]
    return [(cells[2], cells[3], cells[4]) for cells in rows]


def test_the_timeline_numbers_the_runs_the_lifecycle_wrote(admin_client, fake_inngest):
    fake_inngest.up()
    video = video_submit(owner=UserFactory(), youtube_url="https://youtu.be/dQw4w9WgXcQ")

    def start(run_id, attempt):
        data = {"videoId": str(video.pk)}
        video_start_for_event(event_id=event_of(video), data=data, run_id=run_id, attempt=attempt)

    start("01JRUNA", 0)
    for attempt in (0, 1):
        job_step_failed(
            model=Video,
            job_id=str(video.pk),
            step="call-identify-clips-api",
            attempt=attempt,
            error="identify-clips API unreachable: connection refused",
        )
    job_fail(
        model=Video,
        job_id=str(video.pk),
        run_id="01JRUNA",
        event_id="",
        error="down",
        failed="failed",
    )
    video_rerun(video=video)
    start("01JRUNB", 0)
    start("01JRUNB", 1)  # the first step retried within the same run: not a new run
    video.refresh_from_db()
    video_cancel(video=video)

    video.refresh_from_db()
    assert video.attempts == 2
    assert timeline_columns(admin_client, video) == [
        ("create-video-record", "1", "1/4"),
        ("call-identify-clips-api", "1", "1/4"),
        ("call-identify-clips-api", "1", "2/4"),
        ("on-failure", "1", "—"),
        ("run-again", "1", "—"),
        ("create-video-record", "2", "1/4"),
        ("create-video-record", "2", "2/4"),
        ("cancel", "2", "—"),
    ]


def test_an_exports_timeline_counts_its_runs_across_cancel_and_run_again(
    admin_client, fake_inngest, completed_video
):
    fake_inngest.up()
    export = export_create(
        video=completed_video,
        owner=completed_video.owner,
        aspect_ratio="9:16",
        clips=[{"start": 12, "end": 45}],
    )

    def start(run_id):
        data = {"exportId": str(export.pk)}
        return export_start_for_event(
            event_id=event_of(export), data=data, run_id=run_id, attempt=0
        )

    export_cancel(export=start("01JRUNA"))
    export_rerun(export=Export.objects.get(pk=export.pk))
    start("01JRUNB")

    assert timeline_columns(admin_client, export) == [
        ("create-export-record", "1", "1/4"),
        ("cancel", "1", "—"),
        ("run-again", "1", "—"),
        ("create-export-record", "2", "1/4"),
    ]


def event_of(job) -> str:
    """The id of the event whose run works on the job now: the one its run would carry."""
    return type(job).objects.get(pk=job.pk).run_event_id
