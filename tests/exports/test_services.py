"""The services and selectors behind the API that other parts call too (admin, resend_events)."""

from datetime import timedelta

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from core.exceptions import ConflictError
from exports.models import Export
from exports.selectors import exports_stuck
from exports.services import SUBTITLE_STYLE_RULES, export_create, export_rerun
from exports.subtitles import DEFAULT_SUBTITLE_CUSTOMIZATION
from outbox.models import OutboxEvent
from tests.factories import ExportedClipFactory, ExportFactory, VideoFactory
from videos.models import Video
from videos.selectors import videos_stuck
from videos.services import video_rerun, video_submit

URL = "https://www.youtube.com/shorts/dQw4w9WgXcQ"


def test_every_default_subtitle_setting_has_a_rule_and_its_default_passes():
    assert set(SUBTITLE_STYLE_RULES) == set(DEFAULT_SUBTITLE_CUSTOMIZATION)
    for key, value in DEFAULT_SUBTITLE_CUSTOMIZATION.items():
        assert SUBTITLE_STYLE_RULES[key](value) is None, key


def test_video_submit_is_safe_to_repeat_with_a_key(user):
    first = video_submit(owner=user, youtube_url=URL, idempotency_key="abc")
    again = video_submit(owner=user, youtube_url=URL, idempotency_key="abc")
    assert first.pk == again.pk
    assert OutboxEvent.objects.count() == 1


def test_video_submit_validates_even_without_the_api(user):
    with pytest.raises(ValidationError) as caught:
        video_submit(owner=user, youtube_url="https://example.com/watch?v=dQw4w9WgXcQ")
    assert "youtube_url" in caught.value.message_dict
    assert not Video.objects.exists()


def test_video_rerun_puts_a_failed_video_back_to_pending_with_a_new_event(user):
    video = video_submit(owner=user, youtube_url=URL)
    Video.objects.filter(pk=video.pk).update(
        status=Video.Status.FAILED, last_error="API 500", finished_at=timezone.now()
    )

    video_rerun(video=video)

    video.refresh_from_db()
    assert (video.status, video.last_error, video.finished_at) == ("pending", "", None)
    assert list(OutboxEvent.objects.order_by("created_at").values_list("event_id", flat=True)) == [
        f"video/identify.clips:{video.pk}:1",
        f"video/identify.clips:{video.pk}:2",
    ]
    assert OutboxEvent.objects.get(event_id__endswith=":2").data["videoId"] == str(video.pk)


def test_a_completed_video_is_not_run_again(user):
    video = VideoFactory(owner=user, status=Video.Status.COMPLETED)
    with pytest.raises(ConflictError):
        video_rerun(video=video)
    assert not OutboxEvent.objects.exists()


def test_export_rerun_of_a_failed_export(completed_video, user):
    export = export_create(
        video=completed_video, owner=user, aspect_ratio="9:16", clips=[{"start": 0, "end": 5}]
    )
    Export.objects.filter(pk=export.pk).update(status=Export.Status.FAILED, last_error="x")
    export_rerun(export=export)
    export.refresh_from_db()
    assert (export.status, export.last_error) == ("pending", "")
    assert OutboxEvent.objects.filter(job_id=export.pk).count() == 2
    assert OutboxEvent.objects.get(event_id=f"clips/process:{export.pk}:2").data[
        "selectedClips"
    ] == [{"start": 0.0, "end": 5.0}]


def test_a_completed_export_is_not_run_again(db):
    export = ExportFactory(status="completed")
    with pytest.raises(ConflictError):
        export_rerun(export=export)


def test_a_partial_export_is_run_again_keeping_its_rendered_clips(db):
    export = ExportFactory(status="partial", last_error="1 of 2 clips failed")
    rendered = ExportedClipFactory(export=export, start=0, end=5)

    export_rerun(export=export)

    export.refresh_from_db()
    assert (export.status, export.last_error) == ("pending", "")
    assert list(export.exported_clips.all()) == [rendered]
    assert OutboxEvent.objects.filter(job_id=export.pk).count() == 1


def test_export_create_checks_the_rules_without_the_api(completed_video, user):
    with pytest.raises(ValidationError) as caught:
        export_create(
            video=completed_video,
            owner=user,
            aspect_ratio="4:3",
            target_language="xx",
            subtitle_style={"font_size": 4000, "colour": "red"},
            clips=[{"start": 0, "end": 5}],
        )
    assert set(caught.value.message_dict) == {
        "aspect_ratio",
        "target_language",
        "subtitle_style.font_size",
        "subtitle_style.colour",
    }
    assert not Export.objects.exists()


def test_export_create_checks_the_owner(completed_video, other_user):
    with pytest.raises(ValueError, match="owner"):
        export_create(
            video=completed_video,
            owner=other_user,
            aspect_ratio="9:16",
            clips=[{"start": 0, "end": 5}],
        )


def test_stuck_selectors_pick_old_pending_or_processing_jobs_only(db):
    old = timezone.now() - timedelta(hours=2)
    stuck_video = VideoFactory(status=Video.Status.PROCESSING)
    VideoFactory(status=Video.Status.FAILED)
    fresh_video = VideoFactory(status=Video.Status.PENDING)
    stuck_export = ExportFactory(status=Export.Status.PENDING)
    ExportFactory(status=Export.Status.COMPLETED)
    ExportFactory(status=Export.Status.PROCESSING)  # fresh
    Video.objects.exclude(pk=fresh_video.pk).update(updated_at=old)
    Export.objects.filter(status__in=["pending", "completed"]).update(updated_at=old)

    assert list(videos_stuck(older_than=timedelta(hours=1))) == [stuck_video]
    assert list(exports_stuck(older_than=timedelta(hours=1))) == [stuck_export]
    assert not videos_stuck(older_than=timedelta(hours=3)).exists()


def test_losing_a_race_on_the_idempotency_key_returns_the_winners_video(user, monkeypatch):
    """Two processes look the key up at the same moment, both miss, both insert: the unique
    constraint stops the second, which then answers with the first one's video."""
    import videos.services as services

    winner = video_submit(owner=user, youtube_url=URL, idempotency_key="race")
    real_lookup = services._video_for_key
    calls = []

    def stale_first_lookup(*, owner, key):
        calls.append(key)
        return None if len(calls) == 1 else real_lookup(owner=owner, key=key)

    monkeypatch.setattr(services, "_video_for_key", stale_first_lookup)
    loser = video_submit(owner=user, youtube_url=URL, idempotency_key="race")

    assert loser.pk == winner.pk
    assert len(calls) == 2
    assert Video.objects.count() == 1
    assert OutboxEvent.objects.count() == 1
    assert Video.objects.filter(owner=user).count() == 1  # the transaction is still usable
