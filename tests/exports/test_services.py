"""The export services behind the API, which the admin and `resend_events` call too: create (the
API's rules without the API) and rerun."""

import re

import pytest
from django.core.exceptions import ValidationError

from core.exceptions import ConflictError
from exports.models import Export
from exports.services import (
    export_create,
    export_id_for_event,
    export_rerun,
    export_start_for_event,
)
from exports.subtitles import DEFAULT_SUBTITLE_CUSTOMIZATION, SUBTITLE_STYLE_RULES
from jobs.records import JobError
from outbox.models import OutboxEvent
from tests.factories import ExportedClipFactory, ExportFactory, VideoFactory
from videos.models import Video


def test_every_default_subtitle_setting_has_a_rule_and_its_default_passes():
    assert set(SUBTITLE_STYLE_RULES) == set(DEFAULT_SUBTITLE_CUSTOMIZATION)
    for key, value in DEFAULT_SUBTITLE_CUSTOMIZATION.items():
        assert SUBTITLE_STYLE_RULES[key](value) is None, key


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


def test_export_service_refuses_huge_integers_it_is_called_with(completed_video, user):
    from django.core.exceptions import ValidationError

    from exports.services import export_create

    with pytest.raises(ValidationError) as raised:
        export_create(
            video=completed_video,
            owner=user,
            aspect_ratio="1:1",
            clips=[{"start": 10**400, "end": 10**401}],
            subtitle_style={"font_size": 10**400},
        )
    assert set(raised.value.message_dict) == {"subtitle_style.font_size", "clips"}


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"aspectRatio": "4:3"}, "aspect_ratio: Must be one of: 9:16, 1:1, 16:9."),
        ({"targetLanguage": "spanish"}, "target_language: "),
        ({"targetLanguage": "es"}, "es-ES, ja-JP"),
        ({"selectedClips": []}, "clips: Choose at least one clip."),
        (
            {"selectedClips": [{"start": "a", "end": 2}]},
            "clips: Clip 1: start and end must be numbers of seconds.",
        ),
        (
            {"selectedClips": [{"start": 5, "end": 2}]},
            "clips: Clip 1: start must be at least 0 and before end.",
        ),
        ({"userId": "0"}, "does not exist"),  # no user has id 0; 999 may be the owner's
    ],
)
def test_export_event_in_the_original_shape_with_bad_data_writes_nothing(changes, message):
    """The event becomes an export through `export_create`: the API's rules and words."""
    video = VideoFactory(status=Video.Status.COMPLETED)
    data = {
        "userId": str(video.owner_id),
        "videoId": str(video.id),
        "s3Key": video.s3_key,
        "selectedClips": [{"start": "0", "end": "10"}],
        "aspectRatio": "9:16",
        "targetLanguage": None,
        **changes,
    }
    with pytest.raises(JobError, match=re.escape(message)):
        export_start_for_event(event_id="e1", data=data, run_id="r1", attempt=0)
    assert not Export.objects.exists()


@pytest.mark.django_db
def test_export_event_in_the_original_shape_becomes_one_export_for_every_delivery():
    video = VideoFactory(status=Video.Status.COMPLETED)
    data = {
        "userId": str(video.owner_id),
        "videoId": str(video.id),
        "selectedClips": [{"start": "0", "end": "10"}],
        "aspectRatio": "9:16",
        "targetLanguage": "hi-in",
    }
    export = export_start_for_event(event_id="e1", data=data, run_id="r1", attempt=0)
    again = export_start_for_event(event_id="e1", data=data, run_id="r1", attempt=1)
    assert again.pk == export.pk == export_id_for_event("e1")
    assert (export.target_language, export.status) == ("hi-IN", Export.Status.PROCESSING)
    assert export.selected_ranges == [{"start": 0.0, "end": 10.0, "clip_id": None}]
    assert not export.events.exists()  # its run is the event's own: nothing more to send
