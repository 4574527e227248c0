import types
from datetime import timedelta

import pytest
from django.core.cache import cache
from django.utils import timezone
from rest_framework.test import APIClient

from core import inngest as korai_inngest
from devtools.dev_executor import DevExecutor
from devtools.executor import InngestExecutor
from exports.models import Export
from inngest_endpoint.guard import guarded
from outbox.services import event_record
from tests.factories import (
    ClipFactory,
    ExportedClipFactory,
    ExportFactory,
    UserFactory,
    VideoFactory,
)
from tests.fakes.clerk import clerk  # noqa: F401 - a shared fixture
from tests.fakes.clips_api import fake_clips_api  # noqa: F401 - a shared fixture
from tests.fakes.inngest_api import fake_inngest  # noqa: F401 - a shared fixture
from tests.fakes.proxy import proxy  # noqa: F401 - a shared fixture
from tests.fakes.s3 import local_s3, s3  # noqa: F401 - shared fixtures
from videos.models import Video


@pytest.fixture(autouse=True)
def _fresh_cache():
    # Throttle counters and the users cached for tokens and Clerk sessions live in the cache,
    # which outlives a test's database transaction.
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def serve_inngest(live_server, settings):
    """Call it to serve /api/inngest at the live server as korai.urls does, but built from the
    settings as the test has set them (korai.urls builds it once, at import); returns the
    live server's URL."""
    from korai.urls import FUNCTIONS

    def serve() -> str:
        client = korai_inngest.create_client()
        endpoint = korai_inngest.serve(client=client, functions=FUNCTIONS)
        urlconf = types.ModuleType("served_inngest")
        urlconf.urlpatterns = [guarded(endpoint, client=client, functions=FUNCTIONS)]
        settings.ROOT_URLCONF = urlconf
        return live_server.url

    return serve


@pytest.fixture
def user(db):
    return UserFactory()


@pytest.fixture
def other_user(db):
    return UserFactory()


@pytest.fixture
def operator(db):
    """A superuser who signs in to the admin as "operator" with "operator-password-1"."""
    return UserFactory(
        username="operator",
        password="operator-password-1",
        is_staff=True,
        is_superuser=True,
    )


@pytest.fixture
def api_client(user):
    """An API client authenticated as `user`."""
    client = APIClient()
    client.force_authenticate(user)
    return client


@pytest.fixture
def completed_video(user):
    """A video of `user` whose clips are identified: 3 clips in a 600-second video."""
    video = VideoFactory(
        owner=user,
        status=Video.Status.COMPLETED,
        duration_seconds=600.0,
        total_clips=3,
    )
    for start, score in ((0.0, 4), (100.0, 9), (200.0, 6)):
        ClipFactory(video=video, start=start, end=start + 30, virality_score=score)
    return video


@pytest.fixture
def executor(live_server, fake_clips_api):  # noqa: F811 - the fixture, by name
    """Drives the live server's /api/inngest as Inngest does (needs transactional_db)."""
    return InngestExecutor(base_url=live_server.url)


@pytest.fixture
def dev(live_server, fake_clips_api):  # noqa: F811 - the fixture, by name
    """The development executor (`manage.py dev_executor`'s engine) taking the outbox's events to
    the live server's /api/inngest, two runs at a time (needs transactional_db)."""
    dev = DevExecutor(executor=InngestExecutor(base_url=live_server.url), workers=2)
    yield dev
    dev.close()


@pytest.fixture
def jobs(db, fake_inngest):  # noqa: F811 - the fixture, by name
    """One of everything an operator looks at: a completed video with clips, a failed one with
    a timeline, a stuck one, a partial export with a failed clip, delivered and undelivered
    events."""
    now = timezone.now()
    owner = UserFactory(username="alice")
    completed = VideoFactory(
        owner=owner,
        status=Video.Status.COMPLETED,
        total_clips=2,
        duration_seconds=754.0,
        attempts=1,
        started_at=now - timedelta(minutes=5),
        finished_at=now - timedelta(minutes=2),
        inngest_run_id="01JRUNCOMPLETED",
        timeline=[
            {
                "step": "create-video-record",
                "at": (now - timedelta(minutes=5)).isoformat(),
                "attempt": 1,
                "detail": "video recorded",
            },
            {
                "step": "save-clips-to-database",
                "at": (now - timedelta(minutes=2)).isoformat(),
                "attempt": 1,
                "detail": "2 clips",
            },
        ],
    )
    clips = [ClipFactory(video=completed), ClipFactory(video=completed)]
    failed = VideoFactory(
        owner=owner,
        status=Video.Status.FAILED,
        attempts=3,
        started_at=now - timedelta(minutes=20),
        finished_at=now - timedelta(minutes=10),
        inngest_run_id="01JRUNFAILED",
        last_error="Clips API answered 422: the video is private\nTraceback line 2",
        timeline=[
            {
                "step": "call-identify-clips-api",
                "at": now.isoformat(),
                "attempt": 3,
                "detail": "422 from the clips API",
            }
        ],
    )
    event_record(name="video/identify.clips", data={"videoId": str(failed.pk)}, job=failed)
    stuck = VideoFactory(owner=owner, status=Video.Status.PROCESSING)
    Video.objects.filter(pk=stuck.pk).update(updated_at=now - timedelta(hours=2))
    export = ExportFactory(
        video=completed,
        status=Export.Status.PARTIAL,
        last_error="1 of 2 clips failed",
        selected_ranges=[{"start": c.start, "end": c.end, "clip_id": str(c.pk)} for c in clips],
    )
    ExportedClipFactory(export=export, start=clips[0].start, end=clips[0].end)
    ExportedClipFactory(
        export=export, start=clips[1].start, end=clips[1].end, s3_key="", error="GPU out of memory"
    )
    fake_inngest.down()
    lost = event_record(name="clips/process", data={"exportId": str(export.pk)}, job=export)
    return {
        "owner": owner,
        "completed": completed,
        "failed": failed,
        "stuck": stuck,
        "export": export,
        "clips": clips,
        "lost_event": lost,
    }
