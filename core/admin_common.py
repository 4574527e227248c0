"""Pieces the apps' admins share: status badges, the Inngest run link, the job timeline, a lean
owner filter and the read-only base for everything the Inngest functions write."""

from __future__ import annotations

import uuid
from datetime import timedelta
from urllib.parse import quote, urlencode

from django.conf import settings
from django.contrib import admin, messages
from django.urls import reverse
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from django.utils.html import format_html, format_html_join
from django.utils.timesince import timesince

from core.inngest import dashboard_url, is_dev_mode

# Both jobs' statuses and the outbox's delivery states share one palette (admin/base_site.html).
BADGE_TONES = {
    "pending": "grey",
    "processing": "blue",
    "completed": "green",
    "partial": "amber",
    "failed": "red",
    "cancelled": "grey",
    "delivered": "green",
    "undelivered": "amber",
    "delivery failed": "red",
    "rendered": "green",
}

ERROR_EXCERPT_CHARS = 80


def badge(text: str, tone: str | None = None):
    return format_html(
        '<span class="korai-badge korai-badge--{}">{}</span>',
        tone or BADGE_TONES.get(text, "grey"),
        text,
    )


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


def max_tries() -> int:
    return settings.INNGEST_RETRIES + 1


def attempts_help() -> str:
    return (
        "Attempts: the Inngest runs started for this job (its first run, then one more for "
        "each “Run again”). Within one run Inngest tries a failing step up to "
        f"{max_tries()} times: the timeline's “try” column."
    )


def inngest_run_url(run_id: str) -> str:
    """The run's page in the Inngest dashboard: the Dev Server UI's `/run?runID=` in dev mode,
    Inngest Cloud's `/env/<env>/runs/<id>` otherwise (production unless INNGEST_DASHBOARD_URL
    already names an environment, e.g. `https://app.inngest.com/env/staging`)."""
    base = dashboard_url()
    if is_dev_mode():
        return f"{base}/run?runID={quote(run_id)}"
    if "/env/" not in base:
        base = f"{base}/env/production"
    return f"{base}/runs/{quote(run_id)}"


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


class StuckFilter(admin.SimpleListFilter):
    """Jobs pending or processing with no progress for KORAI_STUCK_AFTER_MINUTES, exactly as
    the app's `*_stuck` selector (the one `resend_events --stuck` uses) defines them."""

    title = "stuck"
    parameter_name = "stuck"

    def stuck(self, older_than: timedelta):
        raise NotImplementedError("subclasses return their app's *_stuck selector")

    def lookups(self, request, model_admin):
        return (("yes", f"No progress for {settings.KORAI_STUCK_AFTER_MINUTES} min"),)

    def queryset(self, request, queryset):
        if self.value() == "yes":
            return queryset.filter(pk__in=self.stuck(stuck_after()).values("pk"))
        return queryset


def stuck_after() -> timedelta:
    return timedelta(minutes=settings.KORAI_STUCK_AFTER_MINUTES)


def admin_link(obj, text):
    """A link to the object's change page in the admin."""
    opts = obj._meta
    url = reverse(f"admin:{opts.app_label}_{opts.model_name}_change", args=[obj.pk])
    return format_html('<a href="{}">{}</a>', url, text)


def changelist_url(model, **params) -> str:
    url = reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_changelist")
    return f"{url}?{urlencode(params)}" if params else url


def delivery_state(event) -> str:
    if event.delivered_at:
        return "delivered"
    return "delivery failed" if event.attempts else "undelivered"


def report_delivery(model_admin, request, report) -> None:
    """One message per delivery pass: how many events went out, failed or were skipped, and why."""
    text = (
        f"Delivered {report.delivered} event(s); {report.failed} failed; "
        f"{report.skipped} skipped (already delivered or being sent)."
    )
    if report.failed:
        model_admin.message_user(request, f"{text} {' | '.join(report.errors)}", messages.ERROR)
    else:
        model_admin.message_user(request, text, messages.SUCCESS)


class ReadOnlyAdminMixin:
    """What the Inngest functions write is never edited by hand: an operator changes a job only
    through the actions, which call the same services as the API."""

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_rerun_permission(self, request):
        # Actions need the model's change permission although no form is ever editable.
        opts = self.opts
        return request.user.has_perm(f"{opts.app_label}.change_{opts.model_name}")


class ReadOnlyInline(admin.TabularInline):
    extra = 0
    can_delete = False
    show_change_link = True

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class TrackedJobAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    """Shared columns and fields of the two Inngest jobs (Video, Export): status, the error,
    attempts, timings and the timeline (operations.admin.jobs adds what needs the outbox and
    the reruns)."""

    list_per_page = 100
    # At 100,000 rows the unfiltered COUNT(*) next to every filtered count costs a full scan.
    show_full_result_count = False
    # Facet counts run one COUNT per filter choice: far too many queries at this size.
    show_facets = admin.ShowFacets.NEVER
    ordering = ("-created_at",)
    job_fields = (
        "status_badge",
        "inngest_run",
        "attempts_count",
        "created_at",
        "started_at",
        "finished_at",
        "time_taken",
        "updated_at",
    )

    def get_search_results(self, request, queryset, search_term):
        # An id pasted from a log, an event or the Inngest dashboard finds its job through the
        # primary key instead of a text scan of every row.
        try:
            job_id = uuid.UUID(search_term.strip())
        except ValueError:
            return super().get_search_results(request, queryset, search_term)
        return queryset.filter(pk=job_id), False

    @admin.display(description="status", ordering="status")
    def status_badge(self, obj):
        return badge(obj.status)

    @admin.display(description="age", ordering="-created_at")
    def age(self, obj):
        return timesince(obj.created_at, timezone.now())

    @admin.display(description="time taken")
    def time_taken(self, obj):
        if obj.started_at is None:
            return "—"
        if obj.finished_at is None:
            running = (timezone.now() - obj.started_at).total_seconds()
            return f"running {duration_text(running)}"
        return duration_text((obj.finished_at - obj.started_at).total_seconds())

    @admin.display(description="error")
    def error_start(self, obj):
        return error_details(obj.last_error, ERROR_EXCERPT_CHARS)

    @admin.display(description="error")
    def error_full(self, obj):
        if not obj.last_error:
            return "—"
        return format_html('<pre class="korai-pre">{}</pre>', obj.last_error)

    @admin.display(description="attempts", ordering="attempts")
    def attempts_count(self, obj):
        return format_html('<span title="{}">{}</span>', attempts_help(), obj.attempts)

    @admin.display(description="Inngest run")
    def inngest_run(self, obj):
        if not obj.inngest_run_id:
            return "— (no run has started yet)"
        return format_html(
            '<a href="{}" target="_blank" rel="noopener">{}</a>',
            inngest_run_url(obj.inngest_run_id),
            obj.inngest_run_id,
        )

    @admin.display(description="timeline")
    def timeline_table(self, obj):
        entries = obj.timeline if isinstance(obj.timeline, list) else []
        if not entries:
            return "— (nothing recorded yet)"
        rows = format_html_join(
            "",
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            _timeline_rows(entries),
        )
        return format_html(
            '<table class="korai-timeline"><thead><tr><th>at</th><th>+</th><th>step</th>'
            '<th title="{}">run</th><th title="{}">try</th><th>detail</th></tr></thead>'
            "<tbody>{}</tbody></table>",
            "Which of the job's attempts (Inngest runs) this happened in: 1 to “attempts”.",
            f"Inngest's try of this step within its run, 1 to {max_tries()}.",
            rows,
        )


def _timeline_rows(entries):
    """(at, +since previous, step, run, try, detail) per entry. Runs are numbered in the order
    they started (a "run <id>" entry with a new id), as `attempts` counts them; a try is the
    step's 0-based attempt shown from 1; a detail equal to the one above is not repeated."""
    runs: list[str] = []
    previous_at = None
    previous_detail = None
    for raw in entries:
        entry = raw if isinstance(raw, dict) else {"detail": str(raw)}
        at = parse_datetime(str(entry.get("at") or ""))
        detail = str(entry.get("detail") or "")
        if detail.startswith("run ") and detail[4:] not in runs:
            runs.append(detail[4:])
        since = (
            "+" + duration_text((at - previous_at).total_seconds()) if at and previous_at else ""
        )
        attempt = entry.get("attempt")
        step = entry.get("step", "")
        tried = (
            f"{attempt + 1}/{max_tries()}"
            if isinstance(attempt, int) and step != "on-failure"
            else "—"
        )
        if detail and detail == previous_detail:
            shown = format_html('<span class="quiet">{}</span>', "same as above")
        else:
            shown = error_details(detail, 120) if detail else ""
        yield (
            at.strftime("%Y-%m-%d %H:%M:%S") if at else entry.get("at", ""),
            since,
            step,
            len(runs) or "—",
            tried,
            shown,
        )
        previous_at = at or previous_at
        previous_detail = detail


def report_rerun(model_admin, request, *, selected: int, report) -> None:
    """The message of a "run again" action: how many of the `selected` jobs `jobs_rerun` ran
    again, how many it left alone (running, finished, or stuck with an undelivered event of
    their own, which the resend covers), and which changed under it (finished meanwhile)."""
    done = report.total
    left_alone = selected - done - len(report.skipped)
    text = f"Ran {done} job(s) again."
    if left_alone:
        text += (
            f" Left {left_alone} alone: running, finished, or stuck with an undelivered event"
            " (resend that instead)."
        )
    model_admin.message_user(request, text, messages.SUCCESS if done else messages.WARNING)
    if report.skipped:
        model_admin.message_user(
            request, "Not run again: " + " | ".join(report.skipped), messages.ERROR
        )
