from django.contrib.auth.models import AbstractUser


class User(AbstractUser):
    """Korai's user. A project-owned model from day one, so fields can be added later without
    the painful mid-project swap away from `auth.User`."""
