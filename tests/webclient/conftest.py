import pytest

from tests.factories import UserFactory
from tests.webclient.pages import Page


@pytest.fixture
def web_user(db):
    return UserFactory(username="web", clerk_id="user_web")


@pytest.fixture
def page(clerk, web_user):
    """The signed-in user's browser."""
    return Page(clerk.session_token(web_user.clerk_id))


@pytest.fixture
def intruder_page(clerk, db):
    """Another signed-in user's browser."""
    return Page(clerk.session_token("user_intruder"))
