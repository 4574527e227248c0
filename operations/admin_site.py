"""The admin site itself: the jobs first on its index, and no "View site" link."""

from django.contrib import admin
from django.contrib.admin.apps import AdminConfig

# What an operator follows: on the index above everything else, within a laptop screen's height.
JOBS_FIRST = ("videos", "exports")


class KoraiAdminSite(admin.AdminSite):
    # Korai has no site of its own to view: "View site" led to a 404.
    site_url = None
    # The app sidebar takes a fifth of a 1,366 px screen from the job lists; the index page and
    # the breadcrumbs lead to every model, the header to the dashboard.
    enable_nav_sidebar = False

    def get_app_list(self, request, app_label=None):
        apps = super().get_app_list(request, app_label)
        first = [app for label in JOBS_FIRST for app in apps if app["app_label"] == label]
        return first + [app for app in apps if app not in first]


class KoraiAdminConfig(AdminConfig):
    default_site = "operations.admin_site.KoraiAdminSite"
