from django.contrib import admin
from django.contrib.auth.admin import UserAdmin

from accounts.models import User


@admin.register(User)
class KoraiUserAdmin(UserAdmin):
    list_display = (*UserAdmin.list_display, "clerk_id")
    search_fields = (*UserAdmin.search_fields, "clerk_id")
    readonly_fields = ("clerk_id",)
    fieldsets = (*UserAdmin.fieldsets, ("Clerk (web client sign-in)", {"fields": ("clerk_id",)}))
