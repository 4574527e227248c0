"""Admin pieces every app shares: badges, excerpts, links, a lean owner filter and the read-only
base for what the Inngest functions write."""

from __future__ import annotations

from urllib.parse import urlencode

from django.contrib import admin
from django.urls import reverse
from django.utils.html import format_html

ERROR_EXCERPT_CHARS = 80


def badge(text: str, tone: str = "grey"):
    """A coloured label (the palette is in admin/base_site.html: grey, blue, green, amber, red)."""
    return format_html('<span class="korai-badge korai-badge--{}">{}</span>', tone, text)


def excerpt(text: str, limit: int = ERROR_EXCERPT_CHARS) -> str:
    first_line = (text or "").strip().splitlines()[0] if (text or "").strip() else ""
    return first_line if len(first_line) <= limit else first_line[: limit - 1] + "…"


def error_details(text: str, limit: int = ERROR_EXCERPT_CHARS):
    """An error shortened to the start of its first line, the full text one click away (a
    <details> element: no script, works in lists and on change pages alike)."""
    text = (text or "").strip()
    if not text:
        return "—"
    short = excerpt(text, limit)
    if short == text:
        return format_html('<span class="korai-error">{}</span>', text)
    return format_html(
        '<details class="korai-error"><summary>{}</summary><div class="korai-error-full">{}</div>'
        "</details>",
        short,
        text,
    )


def duration_text(seconds: float | None) -> str:
    if seconds is None:
        return "—"
    seconds = round(seconds)
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours}h {minutes:02d}m"
    if minutes:
        return f"{minutes}m {secs:02d}s"
    return f"{secs}s"


def clock_text(seconds: float) -> str:
    """A time within a video as a player shows it: 0:12, 1:02:03 (tenths kept: 1:30.5)."""
    whole, tenths = divmod(round(seconds * 10), 10)
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    text = f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"
    return f"{text}.{tenths}" if tenths else text


def ranges_text(ranges) -> str:
    """Ranges of a video ([{"start", "end"}, ...] in seconds) as a player's times, an en dash
    between start and end: "0:12–0:45, 1:02–1:30"."""  # noqa: RUF002
    dash = "\N{EN DASH}"
    return ", ".join(f"{clock_text(r['start'])}{dash}{clock_text(r['end'])}" for r in ranges) or "—"


class OwnerFilter(admin.SimpleListFilter):
    """Filter by the owner's exact username, typed in: a choice list would render every user
    (100,000 of them) on each changelist page."""

    title = "owner"
    parameter_name = "owner"
    template = "admin/korai/input_filter.html"

    def lookups(self, request, model_admin):
        return ()

    def has_output(self):
        return True

    def queryset(self, request, queryset):
        value = (self.value() or "").strip()
        if value:
            return queryset.filter(owner__username=value)
        return queryset

    def choices(self, changelist):
        # The template renders one text box; the other active filters ride along as hidden
        # inputs so typing an owner narrows the current view instead of resetting it.
        all_query = changelist.get_query_string(remove=[self.parameter_name])
        yield {
            "selected": self.value() is not None,
            "query_string": all_query,
            "display": "All",
            "value": self.value() or "",
            "parameter_name": self.parameter_name,
            "hidden": [
                (key, value)
                for key, values in changelist.params.items()
                if key != self.parameter_name
                for value in (values if isinstance(values, list) else [values])
            ],
        }


def admin_link(obj, text):
    """A link to the object's change page in the admin."""
    opts = obj._meta
    url = reverse(f"admin:{opts.app_label}_{opts.model_name}_change", args=[obj.pk])
    return format_html('<a href="{}">{}</a>', url, text)


def changelist_url(model, **params) -> str:
    url = reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_changelist")
    return f"{url}?{urlencode(params)}" if params else url


class ReadOnlyModelAdmin(admin.ModelAdmin):
    """What the Inngest functions write is never edited by hand: an operator changes a job only
    through the actions, which call the same services as the API. Every such table grows to
    100,000s of rows, so the list pages skip what costs a full scan."""

    list_per_page = 100
    # The unfiltered COUNT(*) next to every filtered count is a full scan at that size.
    show_full_result_count = False
    # Facet counts run one COUNT per filter choice: far too many queries at that size.
    show_facets = admin.ShowFacets.NEVER

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_rerun_permission(self, request):
        # Actions need the model's change permission although no form is ever editable.
        opts = self.opts
        return request.user.has_perm(f"{opts.app_label}.change_{opts.model_name}")


class ReadOnlyInlineMixin:
    """An inline of rows the functions write: listed, linked, never added, edited or deleted."""

    extra = 0
    can_delete = False
    show_change_link = True

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class ReadOnlyInline(ReadOnlyInlineMixin, admin.TabularInline):
    pass
