import uuid
from datetime import timedelta

import factory
from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.contenttypes.models import ContentType
from django.db import models
from django.utils import timezone

from clips.models import Clip
from exports.models import AspectRatio, Export, ExportedClip
from exports.services import process_event
from inngest_endpoint.models import SeenSignature
from outbox.models import OutboxEvent
from videos.models import Video, VideoDeletion
from videos.services import identify_event


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = get_user_model()
        django_get_or_create = ("username",)

    username = factory.Sequence(lambda n: f"user{n}")
    email = factory.LazyAttribute(lambda u: f"{u.username}@example.com")
    password = factory.django.Password("correct horse battery staple")


class VideoFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Video

    id = factory.LazyFunction(uuid.uuid4)
    owner = factory.SubFactory(UserFactory)
    youtube_id = factory.Sequence(lambda n: f"vid{n:08d}"[:11])
    youtube_url = factory.LazyAttribute(lambda v: f"https://www.youtube.com/watch?v={v.youtube_id}")
    s3_key = factory.LazyAttribute(lambda v: Video.s3_key_for(v.id))
    prompt = ""


class ClipFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Clip

    video = factory.SubFactory(VideoFactory)
    start = factory.Sequence(lambda n: float(n * 60))
    end = factory.LazyAttribute(lambda c: c.start + 30)
    title = factory.Sequence(lambda n: f"Clip {n}")
    summary = "A moment worth sharing."
    virality_score = 5
    related_topics = factory.LazyFunction(lambda: ["topic"])
    transcript = "Words spoken in the clip."


class ExportFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Export

    video = factory.SubFactory(VideoFactory, status=Video.Status.COMPLETED)
    owner = factory.LazyAttribute(lambda e: e.video.owner)
    aspect_ratio = AspectRatio.VERTICAL
    selected_ranges = factory.LazyFunction(lambda: [{"start": 0.0, "end": 30.0, "clip_id": None}])


class ExportedClipFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = ExportedClip
        skip_postgeneration_save = True

    export = factory.SubFactory(ExportFactory)
    video = factory.LazyAttribute(lambda c: c.export.video)
    start = factory.Sequence(lambda n: float(n * 60))
    end = factory.LazyAttribute(lambda c: c.start + 30)
    s3_key = factory.Sequence(lambda n: f"exports/clip-{n}.mp4")
    aspect_ratio = factory.LazyAttribute(lambda c: c.export.aspect_ratio)

    @factory.post_generation
    def count_on_video(clip, create, extracted, **kwargs):
        # As exports.services does when it stores a rendered clip.
        if create and clip.s3_key:
            Video.objects.filter(pk=clip.video_id).update(
                exported_clip_count=models.F("exported_clip_count") + 1
            )


class VideoDeletionFactory(factory.django.DjangoModelFactory):
    """A deleted video's clean-up still to do, as `videos.deletion.video_delete` records it: the
    video's storage folder to empty."""

    class Meta:
        model = VideoDeletion

    id = factory.LazyFunction(uuid.uuid4)
    owner = factory.SubFactory(UserFactory)
    youtube_id = factory.Sequence(lambda n: f"del{n:08d}"[:11])
    prefixes = factory.LazyAttribute(lambda d: [f"youtube-videos/{d.id}/"])


def _event_name(event) -> str:
    return "clips/process" if isinstance(event.job, Export) else "video/identify.clips"


def _event_data(event) -> dict:
    """The data the services record with the event (`videos.services`, `exports.services`)."""
    job = event.job
    if event.name == "video/identify.clips":
        return identify_event(job)["data"]
    if event.name == "clips/process":
        return process_event(job)["data"]
    if isinstance(job, Export):
        return {"exportId": str(job.pk), "videoId": str(job.video_id)}
    return {"videoId": str(job.pk)}


def _event_id(event) -> str:
    """`{name}:{job id}:{n}`, n one more than the job's earlier events of this name, as
    `outbox.services.event_record` numbers them."""
    earlier = OutboxEvent.objects.filter(
        name=event.name, job_type=event.job_type, job_id=event.job_id
    ).count()
    return f"{event.name}:{event.job_id}:{earlier + 1}"


class OutboxEventFactory(factory.django.DjangoModelFactory):
    """An event of a job (a video by default, or `job=` an export), with the name, data and id
    `outbox.services.event_record` writes; not sent (the row only, as after an outage)."""

    class Meta:
        model = OutboxEvent
        exclude = ("job",)

    job = factory.SubFactory(VideoFactory)
    job_type = factory.LazyAttribute(lambda e: ContentType.objects.get_for_model(e.job))
    job_id = factory.LazyAttribute(lambda e: e.job.pk)
    name = factory.LazyAttribute(_event_name)
    data = factory.LazyAttribute(_event_data)
    event_id = factory.LazyAttribute(_event_id)


class SeenSignatureFactory(factory.django.DjangoModelFactory):
    """A signature `/api/inngest` accepted, kept until its timestamp leaves the window."""

    class Meta:
        model = SeenSignature

    signature = factory.Sequence(lambda n: f"{n:064x}")
    expires_at = factory.LazyFunction(
        lambda: timezone.now() + timedelta(seconds=settings.INNGEST_SIGNATURE_MAX_AGE_SECONDS)
    )
