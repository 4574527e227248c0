import pytest
from django.db import IntegrityError, transaction

from exports.models import Export, ExportedClip
from tests.factories import ExportedClipFactory, ExportFactory

pytestmark = pytest.mark.django_db


def test_unknown_export_status_is_rejected_by_the_database():
    export = ExportFactory()
    with pytest.raises(IntegrityError), transaction.atomic():
        Export.objects.filter(pk=export.pk).update(status="half-done")


def test_unknown_aspect_ratio_is_rejected_by_the_database():
    export = ExportFactory()
    with pytest.raises(IntegrityError), transaction.atomic():
        Export.objects.filter(pk=export.pk).update(aspect_ratio="4:3")


def test_duplicate_exported_range_is_rejected():
    exported = ExportedClipFactory(start=0.0, end=10.0)
    with pytest.raises(IntegrityError), transaction.atomic():
        ExportedClipFactory(export=exported.export, start=0.0, end=10.0)


def test_exported_clip_needs_a_key_or_an_error():
    export = ExportFactory()
    with pytest.raises(IntegrityError), transaction.atomic():
        ExportedClip.objects.create(
            export=export, video=export.video, start=0, end=5, aspect_ratio="1:1"
        )
    failed = ExportedClip.objects.create(
        export=export, video=export.video, start=0, end=5, aspect_ratio="1:1", error="timeout"
    )
    assert not failed.succeeded


@pytest.mark.parametrize(("start", "end"), [(10.0, 10.0), (-2.0, 3.0)])
def test_exported_clip_range_is_checked(start, end):
    export = ExportFactory()
    with pytest.raises(IntegrityError), transaction.atomic():
        ExportedClip.objects.create(
            export=export, video=export.video, start=start, end=end, aspect_ratio="1:1", s3_key="k"
        )
