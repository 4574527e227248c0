"""The export services behind the API, which the admin and `resend_events` call too: create (the
API's rules without the API) and rerun."""

import pytest
from django.core.exceptions import ValidationError

from core.exceptions import ConflictError
from exports.models import Export
from exports.services import SUBTITLE_STYLE_RULES, export_create, export_rerun
from exports.subtitles import DEFAULT_SUBTITLE_CUSTOMIZATION
from outbox.models import OutboxEvent
from tests.factories import ExportedClipFactory, ExportFactory


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
