from django.contrib.auth.models import AbstractUser
from django.db import models


class User(AbstractUser):
    """Korai's user. A project-owned model from day one, so fields can be added later without
    the painful mid-project swap away from `auth.User`."""

    # The Clerk user id (`sub` of its session tokens) of a user who signs in through the web
    # client; empty for users made here (admin, API tokens).
    clerk_id = models.CharField(max_length=255, blank=True, editable=False)

    class Meta(AbstractUser.Meta):
        constraints = [
            models.UniqueConstraint(
                fields=["clerk_id"], condition=~models.Q(clerk_id=""), name="user_clerk_id_unique"
            )
        ]
