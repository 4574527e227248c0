import pytest

from devtools.executor import InngestExecutor
from tests.fakes.clips_api import FakeClipsAPI


@pytest.fixture
def fake_clips_api(settings):
    """The fake clips APIs, with settings pointing at them and short timeouts."""
    with FakeClipsAPI(clips=3) as api:
        settings.CLIPS_API_URL = api.identify_url
        settings.PROCESS_CLIPS_API_URL = api.process_url
        settings.CLIPS_API_FALLBACK_URL = ""
        settings.PROCESS_CLIPS_API_FALLBACK_URL = ""
        settings.CLIPS_API_TOKEN = api.token
        settings.CLIPS_API_CONNECT_TIMEOUT_SECONDS = 1.0
        settings.CLIPS_API_READ_TIMEOUT_SECONDS = 0.5
        yield api


@pytest.fixture
def executor(live_server, fake_clips_api):
    """Drives the live server's /api/inngest as Inngest does (needs transactional_db)."""
    return InngestExecutor(base_url=live_server.url)
