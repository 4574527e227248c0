"""The stuck rules of the videos' and the exports' selectors, which the reruns, the admin and
`resend_events` read."""

from datetime import timedelta

from django.utils import timezone

from exports.models import Export
from exports.selectors import exports_stuck
from tests.factories import ExportFactory, VideoFactory
from videos.models import Video
from videos.selectors import videos_stuck


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
