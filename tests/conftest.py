import pytest
from rest_framework.test import APIClient

from devtools.executor import InngestExecutor
from tests.factories import UserFactory
from tests.fakes.clerk import clerk  # noqa: F401 - a shared fixture
from tests.fakes.clips_api import fake_clips_api  # noqa: F401 - a shared fixture
from tests.fakes.inngest_api import fake_inngest  # noqa: F401 - a shared fixture
from tests.fakes.s3 import local_s3, s3  # noqa: F401 - shared fixtures


@pytest.fixture
def user(db):
    return UserFactory()


@pytest.fixture
def other_user(db):
    return UserFactory()


@pytest.fixture
def api_client(user):
    """An API client authenticated as `user`."""
    client = APIClient()
    client.force_authenticate(user)
    return client


@pytest.fixture
def executor(live_server, fake_clips_api):  # noqa: F811 - the fixture, by name
    """Drives the live server's /api/inngest as Inngest does (needs transactional_db)."""
    return InngestExecutor(base_url=live_server.url)
