"""Every admin page an operator opens renders, with what they came for on it."""

import pytest
from django.urls import reverse

from clips.models import Clip
from exports.models import ExportedClip
from outbox.models import OutboxEvent

pytestmark = pytest.mark.django_db(transaction=True)


def test_index_links_the_dashboard(admin_client):
    response = admin_client.get(reverse("admin:index"))
    assert response.status_code == 200
    assert reverse("admin-dashboard").encode() in response.content


@pytest.mark.parametrize(
    ("name", "query"),
    [
        ("videos_video", ""),
        ("videos_video", "?status__exact=failed"),
        ("videos_video", "?stuck=yes"),
        ("videos_video", "?owner=alice"),
        ("videos_video", "?created_at__gte=2020-01-01+00:00:00%2B00:00"),
        ("videos_video", "?q=vid"),
        ("exports_export", ""),
        ("exports_export", "?status__exact=partial&stuck=yes&owner=alice"),
        ("exports_exportedclip", "?outcome=failed"),
        ("clips_clip", "?q=Clip"),
        ("outbox_outboxevent", "?delivery=undelivered"),
        ("outbox_outboxevent", "?delivery=failed&name=clips/process"),
    ],
)
def test_changelists_render(admin_client, jobs, name, query):
    response = admin_client.get(reverse(f"admin:{name}_changelist") + query)
    assert response.status_code == 200, response.content[:500]


def test_video_changelist_shows_badges_and_error_start(admin_client, jobs):
    response = admin_client.get(reverse("admin:videos_video_changelist"))
    html = response.content.decode()
    assert 'korai-badge--red">failed</span>' in html
    assert 'korai-badge--green">completed</span>' in html
    # The start of the error in the list, the whole text one click away (collapsed).
    assert "<summary>Clips API answered 422: the video is private</summary>" in html
    assert (
        '<div class="korai-error-full">Clips API answered 422: the video is private\n'
        "Traceback line 2</div></details>"
    ) in html
    assert "12m 34s" in html  # duration


def test_filters_narrow_the_videos(admin_client, jobs):
    url = reverse("admin:videos_video_changelist")
    failed = admin_client.get(url + "?status__exact=failed").context["cl"]
    assert [v.pk for v in failed.result_list] == [jobs["failed"].pk]
    stuck = admin_client.get(url + "?stuck=yes").context["cl"]
    assert [v.pk for v in stuck.result_list] == [jobs["stuck"].pk]
    nobody = admin_client.get(url + "?owner=nobody").context["cl"]
    assert list(nobody.result_list) == []
    by_id = admin_client.get(url, {"q": str(jobs["completed"].pk)}).context["cl"]
    assert [v.pk for v in by_id.result_list] == [jobs["completed"].pk]


def test_video_change_page_shows_the_whole_job(admin_client, jobs, settings):
    settings.INNGEST_DEV = ""
    settings.INNGEST_DASHBOARD_URL = "https://app.inngest.com"
    video = jobs["completed"]
    html = admin_client.get(reverse("admin:videos_video_change", args=[video.pk])).content.decode()
    assert "https://app.inngest.com/env/production/runs/01JRUNCOMPLETED" in html
    assert "save-clips-to-database" in html and "+3m 00s" in html  # timeline with gaps
    assert jobs["clips"][0].title in html  # clips inline
    assert reverse("admin:exports_export_change", args=[jobs["export"].pk]) in html
    assert 'name="_save"' not in html  # read-only
    export_page = admin_client.get(reverse("admin:exports_export_change", args=[jobs["export"].pk]))
    # The export's events are on the export's page.
    assert jobs["lost_event"].event_id in export_page.content.decode()
    assert 'korai-badge--red">delivery failed</span>' in export_page.content.decode()


def test_failed_video_page_shows_the_full_error(admin_client, jobs):
    html = admin_client.get(
        reverse("admin:videos_video_change", args=[jobs["failed"].pk])
    ).content.decode()
    assert "Traceback line 2" in html
    assert 'korai-badge--green">delivered</span>' in html


def test_export_change_page_shows_per_clip_errors(admin_client, jobs):
    html = admin_client.get(
        reverse("admin:exports_export_change", args=[jobs["export"].pk])
    ).content.decode()
    assert "GPU out of memory" in html
    assert 'korai-badge--amber">partial</span>' in html
    assert jobs["lost_event"].event_id in html


@pytest.mark.parametrize(
    ("name", "model"),
    [
        ("clips_clip", Clip),
        ("exports_exportedclip", ExportedClip),
        ("outbox_outboxevent", OutboxEvent),
    ],
)
def test_other_change_pages_render(admin_client, jobs, name, model):
    obj = model.objects.first()
    response = admin_client.get(reverse(f"admin:{name}_change", args=[obj.pk]))
    assert response.status_code == 200


def test_nothing_can_be_added_or_edited(admin_client, jobs):
    assert admin_client.get(reverse("admin:videos_video_add")).status_code == 403
    video = jobs["failed"]
    response = admin_client.post(
        reverse("admin:videos_video_change", args=[video.pk]),
        {"status": "completed"},
    )
    assert response.status_code == 403
    video.refresh_from_db()
    assert video.status == "failed"


def test_dashboard_counts_and_links(admin_client, jobs):
    response = admin_client.get(reverse("admin-dashboard"))
    assert response.status_code == 200
    videos, exports = response.context["jobs"]
    counts = {row["status"]: [c["count"] for c in row["cells"]] for row in videos["rows"]}
    assert counts == {
        "pending": [0, 0],
        "processing": [1, 1],
        "completed": [1, 1],
        "failed": [1, 1],
        "cancelled": [0, 0],
    }
    assert videos["stuck_count"] == 1
    assert [row["job"].pk for row in videos["failures"]] == [jobs["failed"].pk]
    assert exports["failures"][0]["job"].pk == jobs["export"].pk  # partial counts as failure
    events = response.context["events"]
    assert (events["total"], events["failed"]) == (1, 1)
    html = response.content.decode()
    assert "Clips API answered 422" in html
    # Each link leads to the rows it counted.
    failed_link = videos["rows"][3]["cells"][0]["url"]
    assert [v.pk for v in admin_client.get(failed_link).context["cl"].result_list] == [
        jobs["failed"].pk
    ]
    undelivered = admin_client.get(events["url"]).context["cl"].result_list
    assert [e.pk for e in undelivered] == [jobs["lost_event"].pk]


def test_dashboard_needs_staff(client, jobs):
    response = client.get(reverse("admin-dashboard"))
    assert response.status_code == 302
    assert reverse("admin:login") in response["Location"]


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
