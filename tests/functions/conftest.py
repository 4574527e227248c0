import pytest

from devtools.executor import InngestExecutor


@pytest.fixture
def executor(live_server, fake_clips_api):
    """Drives the live server's /api/inngest as Inngest does (needs transactional_db)."""
    return InngestExecutor(base_url=live_server.url)
