from io import StringIO

import pytest
from django.contrib.auth import get_user_model
from django.core.management import CommandError, call_command
from rest_framework.authtoken.models import Token

from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


def _setup_demo(*args) -> str:
    out = StringIO()
    call_command("setup_demo", *args, stdout=out)
    return out.getvalue()


def test_refuses_outside_local_development(settings):
    settings.DEBUG = False
    with pytest.raises(CommandError, match="DJANGO_DEBUG=1"):
        _setup_demo()
    assert not get_user_model().objects.exists()


def test_running_twice_keeps_one_user_and_one_token(settings):
    settings.DEBUG = True
    first = _setup_demo()
    second = _setup_demo()

    user = get_user_model().objects.get()
    token = Token.objects.get()
    assert user.username == "demo" and user.is_superuser and user.is_staff
    assert user.check_password("korai-demo")
    assert token.user == user
    assert "Created demo user" in first and "Found demo user" in second
    for output in (first, second):
        assert f"API token: {token.key}" in output
        assert "login demo / korai-demo" in output
        assert (
            "curl -X POST http://127.0.0.1:8000/api/videos/ "
            f"-H 'Authorization: Token {token.key}'" in output
        )


def test_an_existing_user_keeps_its_password_and_gets_a_token(settings):
    settings.DEBUG = True
    UserFactory(username="demo")

    output = _setup_demo("--base-url", "http://127.0.0.1:9000/")

    user = get_user_model().objects.get()
    assert user.check_password("correct horse battery staple")
    assert Token.objects.filter(user=user).exists()
    assert "korai-demo" not in output and "the password you set" in output
    assert "http://127.0.0.1:9000/admin/" in output
