"""`reconcile-jobs`: every 5 minutes, settle the videos and exports that Korai believes pending or
processing while the engine has nothing running for them (`jobs.reconcile`)."""

from datetime import timedelta

from django.conf import settings

from core.inngest import periodic_function
from exports.models import Export
from exports.services import EXPORT_JOB
from jobs.reconcile import jobs_reconcile
from videos.models import Video
from videos.services import VIDEO_JOB, identify_answers_left_delete


def reconcile_now() -> dict:
    report = jobs_reconcile(
        candidates=[(VIDEO_JOB, Video.objects.all()), (EXPORT_JOB, Export.objects.all())],
        older_than=timedelta(minutes=settings.KORAI_RECONCILE_AFTER_MINUTES),
    )
    # Answers a cancel or a failure left behind (their -failed/-cancelled run missed them).
    return {**report.as_dict(), "answersDeleted": identify_answers_left_delete()}


reconcile_jobs = periodic_function(
    fn_id="reconcile-jobs", name="Reconcile jobs with the engine", work=reconcile_now
)
