import uuid

import factory
from django.contrib.auth import get_user_model
from django.db import models

from clips.models import Clip
from exports.models import AspectRatio, Export, ExportedClip
from videos.models import Video


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
