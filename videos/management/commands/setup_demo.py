import shlex

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction
from rest_framework.authtoken.models import Token

DEMO_USERNAME = "demo"
DEMO_PASSWORD = "korai-demo"  # noqa: S105 - a documented local-only login, refused outside DEBUG
DEMO_YOUTUBE_URL = "https://www.youtube.com/watch?v=dQw4w9WgXcQ"


@transaction.atomic
def demo_user_ensure(*, username: str, password: str):
    """The demo superuser and its API token, created when missing; an existing user is left as
    it is (its password may have been changed on purpose). Returns (user, token, created)."""
    User = get_user_model()
    user = User.objects.filter(username=username).first()
    created = user is None
    if created:
        user = User.objects.create_superuser(
            username=username, email=f"{username}@localhost", password=password
        )
    token, _ = Token.objects.get_or_create(user=user)
    return user, token, created


class Command(BaseCommand):
    help = (
        "Local development only: create the demo superuser and its API token when missing, "
        "then print how to log in and a ready curl line. Safe to run any number of times."
    )

    def add_arguments(self, parser):
        parser.add_argument("--username", default=DEMO_USERNAME)
        parser.add_argument("--password", default=DEMO_PASSWORD, help="used only on creation")
        parser.add_argument(
            "--base-url", default="http://127.0.0.1:8000", help="where the service answers"
        )

    def handle(self, *args, **options):
        if not settings.DEBUG:
            # A superuser with a published password must never appear in production.
            raise CommandError("setup_demo runs only with DJANGO_DEBUG=1 (local development).")
        user, token, created = demo_user_ensure(
            username=options["username"], password=options["password"]
        )
        base = options["base_url"].rstrip("/")
        known = created or user.check_password(options["password"])
        login_hint = options["password"] if known else "the password you set"
        body = f'{{"youtube_url": "{DEMO_YOUTUBE_URL}", "prompt": "the funniest moments"}}'
        curl = (
            f"curl -X POST {base}/api/videos/ "
            f"-H 'Authorization: Token {token.key}' "
            f"-H 'Content-Type: application/json' -d {shlex.quote(body)}"
        )
        self.stdout.write(
            f"{'Created' if created else 'Found'} demo user {user.username!r}.\n"
            f"  Admin:     {base}/admin/  (login {user.username} / {login_hint})\n"
            f"  API token: {token.key}\n"
            f"  Try:       {curl}\n"
            f"  Then poll: curl -H 'Authorization: Token {token.key}' {base}/api/videos/"
        )
