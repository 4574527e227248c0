"""Keep the token-authentication cache honest: a deleted token or a changed user (deactivated,
password reset) is forgotten at once."""

from django.conf import settings
from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver
from rest_framework.authtoken.models import Token

from api.authentication import clerk_cache_forget, token_cache_forget


@receiver(post_delete, sender=Token)
def forget_deleted_token(sender, instance, **kwargs):
    token_cache_forget(instance.key)


@receiver(post_save, sender=settings.AUTH_USER_MODEL)
def forget_changed_user(sender, instance, update_fields=None, **kwargs):
    if update_fields is not None and set(update_fields) <= {"last_login"}:
        return  # every login saves last_login; nothing the API authenticates with changed
    for key in Token.objects.filter(user=instance).values_list("key", flat=True):
        token_cache_forget(key)
    if instance.clerk_id:
        clerk_cache_forget(instance.clerk_id)


@receiver(post_delete, sender=settings.AUTH_USER_MODEL)
def forget_deleted_user(sender, instance, **kwargs):
    # The tokens are deleted by cascade (their own post_delete fires too); this covers a
    # cache entry left by a token whose row is already gone.
    for key in Token.objects.filter(user_id=instance.pk).values_list("key", flat=True):
        token_cache_forget(key)
    if instance.clerk_id:
        clerk_cache_forget(instance.clerk_id)
