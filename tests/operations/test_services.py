import pytest

from exports.models import Export
from operations.services import jobs_rerun
from tests.factories import ExportFactory, VideoFactory
from videos.models import Video

pytestmark = pytest.mark.django_db(transaction=True)


def test_jobs_rerun_by_ids_runs_exactly_the_given_jobs(fake_inngest):
    chosen = VideoFactory(status=Video.Status.FAILED)
    its_export = ExportFactory(video=chosen, status=Export.Status.FAILED)
    other = VideoFactory(status=Video.Status.FAILED)
    other_export = ExportFactory(video=other, status=Export.Status.FAILED)
    finished = VideoFactory(status=Video.Status.COMPLETED)

    # Only the given videos: not their exports (as `video_id` would), nor anything else.
    report = jobs_rerun(
        failed=True,
        video_ids=Video.objects.filter(pk__in=[chosen.pk, finished.pk]).values("pk"),
        dry_run=True,
    )
    assert (report.videos, report.exports) == ([str(chosen.pk)], [])

    report = jobs_rerun(failed=True, export_ids=[other_export.pk])
    assert (report.videos, report.exports) == ([], [str(other_export.pk)])

    report = jobs_rerun(failed=True, video_ids=[other.pk], export_ids=[its_export.pk])
    assert (report.videos, report.exports) == ([str(other.pk)], [str(its_export.pk)])
    assert Video.objects.get(pk=chosen.pk).status == Video.Status.FAILED  # dry run
    assert Export.objects.get(pk=its_export.pk).status == Export.Status.PENDING
