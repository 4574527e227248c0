import pytest
from rest_framework.test import APIClient

from tests.factories import UserFactory
from tests.fakes.inngest_api import fake_inngest  # noqa: F401 - a shared fixture


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
