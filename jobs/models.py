"""Abstract model pieces shared by the apps' models."""

import uuid

from django.contrib.contenttypes.fields import GenericRelation
from django.db import models


class TimeStampedModel(models.Model):
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        abstract = True


class TrackedJob(TimeStampedModel):
    """What an operator needs to follow a durable Inngest job (a video's identification, an
    export): which run is working on it, how often it was tried, when, and what went wrong."""

    # The id of the Inngest function that runs this kind of job (its metrics' label).
    inngest_function: str = ""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    inngest_run_id = models.CharField(max_length=64, blank=True)
    # The id of the event whose run works on the job now (the latest it was started or run
    # again with). Its cancel event names it, and the function's cancel rule matches on it, so
    # a late or repeated cancel never stops a later run of the same job.
    run_event_id = models.CharField(max_length=200, blank=True)
    attempts = models.PositiveIntegerField(
        default=0, help_text="Times a function run started working on this job."
    )
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    last_error = models.TextField(blank=True)
    # [{"step": "...", "at": "<iso time>", "attempt": n, "detail": "..."}], appended by the
    # services the steps call: the job's timeline in the admin.
    timeline = models.JSONField(default=list, blank=True)
    # A clips API call still running (answered `303` to its result URL), and the run that made
    # it: that run's next steps, and a retry of the step that posted it, fetch the result there
    # instead of posting again, which would pay for a second GPU run (jobs/calls.py).
    pending_call_url = models.TextField(blank=True)
    pending_call_run_id = models.CharField(max_length=64, blank=True)
    # Its outbox events (deleted with it).
    events = GenericRelation(
        "outbox.OutboxEvent", content_type_field="job_type", object_id_field="job_id"
    )

    class Meta:
        abstract = True
