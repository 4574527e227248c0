import pytest

from exports.models import Export
from exports.services import EXPORT_JOB
from jobs.reruns import jobs_rerun
from tests.factories import ExportFactory, VideoFactory
from videos.models import Video
from videos.services import VIDEO_JOB

pytestmark = pytest.mark.django_db(transaction=True)


def test_jobs_rerun_by_ids_runs_exactly_the_given_jobs(fake_inngest):
    chosen = VideoFactory(status=Video.Status.FAILED)
    its_export = ExportFactory(video=chosen, status=Export.Status.FAILED)
    other = VideoFactory(status=Video.Status.FAILED)
    other_export = ExportFactory(video=other, status=Export.Status.FAILED)
    finished = VideoFactory(status=Video.Status.COMPLETED)

    # Exactly the given jobs of each kind, nothing else.
    report = jobs_rerun(
        candidates=[(VIDEO_JOB, Video.objects.filter(pk__in=[chosen.pk, finished.pk]))],
        failed=True,
        dry_run=True,
    )
    assert report.ran == {"video": [str(chosen.pk)]}

    report = jobs_rerun(
        candidates=[(EXPORT_JOB, Export.objects.filter(pk=other_export.pk))], failed=True
    )
    assert report.ran == {"export": [str(other_export.pk)]}

    report = jobs_rerun(
        candidates=[
            (VIDEO_JOB, Video.objects.filter(pk=other.pk)),
            (EXPORT_JOB, Export.objects.filter(pk=its_export.pk)),
        ],
        failed=True,
    )
    assert report.ran == {"video": [str(other.pk)], "export": [str(its_export.pk)]}
    assert Video.objects.get(pk=chosen.pk).status == Video.Status.FAILED  # dry run
    assert Export.objects.get(pk=its_export.pk).status == Export.Status.PENDING
