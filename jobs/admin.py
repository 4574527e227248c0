"""The admin base of every durable job (videos, exports): status, error, attempts, timings,
the timeline and the Inngest run link; a pending job whose event never reached Inngest says so;
a failed job's page has "Run again" and an active one's "Cancel" (the list's actions, which call
the same services as the API)."""

from __future__ import annotations

import uuid
from datetime import timedelta
from urllib.parse import quote

from django.conf import settings
from django.contrib import admin, messages
from django.http import HttpResponseNotAllowed, HttpResponseRedirect
from django.urls import path, reverse
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from django.utils.html import format_html, format_html_join
from django.utils.timesince import timesince

from core.admin import ERROR_EXCERPT_CHARS, ReadOnlyModelAdmin, badge, duration_text, error_details
from core.exceptions import ApplicationError
from core.inngest import dashboard_url, is_dev_mode
from jobs import lifecycle
from jobs.records import CANCEL_STEP, FAILURE_STEP, RERUN_STEP, run_of_line
from jobs.reruns import JobKind, jobs_rerun
from outbox.selectors import pending_reason_for_staff, undelivered_event_error

STATUS_TONES = {
    lifecycle.PENDING: "grey",
    lifecycle.PROCESSING: "blue",
    lifecycle.COMPLETED: "green",
    lifecycle.PARTIAL: "amber",
    lifecycle.FAILED: "red",
    lifecycle.CANCELLED: "grey",
}


def status_badge(status: str):
    return badge(status, STATUS_TONES.get(status, "grey"))


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


class JobAdmin(ReadOnlyModelAdmin):
    """A job's columns and fields (the subclass lists which), its page's buttons and actions."""

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
        return status_badge(obj.status)

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
        if settings.KORAI_DEV_EXECUTOR_RUNNING:
            # No Inngest server holds the run: there is no dashboard page to open.
            return f"{obj.inngest_run_id} (run by the development executor)"
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

    # How the reruns treat this admin's jobs (the app's `JobKind`).
    job_kind: JobKind
    change_form_template = "admin/korai/job_change_form.html"

    def get_queryset(self, request):
        # In the same SELECT: a list or page costs no extra query for it.
        return (
            super()
            .get_queryset(request)
            .annotate(undelivered_error=undelivered_event_error(self.model))
        )

    def job_pending_reason(self, obj) -> str | None:
        if obj.status != lifecycle.PENDING:
            return None
        return pending_reason_for_staff(getattr(obj, "undelivered_error", None))

    def can_run_again(self, request, obj) -> bool:
        return obj.status in lifecycle.RERUNNABLE and self.has_rerun_permission(request)

    def render_change_form(self, request, context, add=False, change=False, form_url="", obj=None):
        if obj is not None:
            opts = self.opts
            status = obj.status
            context["job_pending_reason"] = self.job_pending_reason(obj)
            context["job_waits_for_dev_executor"] = settings.KORAI_DEV_EXECUTOR_RUNNING
            context["job_status"] = status_badge(status)
            if status in lifecycle.RERUNNABLE and obj.last_error:
                context["job_failure"] = error_details(obj.last_error, 160)
            if self.can_run_again(request, obj):
                context["run_again_url"] = reverse(
                    f"admin:{opts.app_label}_{opts.model_name}_run_again", args=[obj.pk]
                )
            if status in lifecycle.ACTIVE and self.has_rerun_permission(request):
                context["cancel_url"] = reverse(
                    f"admin:{opts.app_label}_{opts.model_name}_cancel", args=[obj.pk]
                )
        return super().render_change_form(request, context, add, change, form_url, obj)

    def get_urls(self):
        opts = self.opts
        run_again = path(
            "<path:object_id>/run-again/",
            self.admin_site.admin_view(self.run_again_view),
            name=f"{opts.app_label}_{opts.model_name}_run_again",
        )
        cancel = path(
            "<path:object_id>/cancel/",
            self.admin_site.admin_view(self.cancel_view),
            name=f"{opts.app_label}_{opts.model_name}_cancel",
        )
        return [run_again, cancel, *super().get_urls()]

    def rerun_jobs(self, ids):
        """`jobs_rerun` for these jobs of this admin's kind: the failed (and partial), cancelled
        and stuck ones among them. The list's action and the page's button both call it."""
        return jobs_rerun(
            candidates=[(self.job_kind, self.model.objects.filter(pk__in=ids))],
            failed=True,
            cancelled=True,
            stuck_for=stuck_after(),
        )

    def cancel_job(self, job) -> None:
        """The API's cancel of one job (the subclass's service)."""
        raise NotImplementedError

    def run_again_view(self, request, object_id):
        """The change page's "Run again" button: the list's action, for this job."""
        return self._job_button(
            request,
            object_id,
            refused="Not run again",
            press=lambda obj: report_rerun(
                self, request, selected=1, report=self.rerun_jobs([obj.pk])
            ),
        )

    def cancel_view(self, request, object_id):
        """The change page's "Cancel" button: the list's action, for this job."""
        return self._job_button(
            request,
            object_id,
            refused="Not cancelled",
            press=lambda obj: self.cancel(request, self.get_queryset(request).filter(pk=obj.pk)),
        )

    def _job_button(self, request, object_id, *, refused: str, press):
        """A button on a job's page: POST only, the job's change permission, then back to the
        page, where the action's message is shown."""
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])  # a GET never changes a job
        obj = self.get_object(request, object_id)
        if obj is None or not self.has_rerun_permission(request):
            self.message_user(request, f"{refused}: no such job or no permission.", messages.ERROR)
        else:
            press(obj)
        opts = self.opts
        return HttpResponseRedirect(
            reverse(f"admin:{opts.app_label}_{opts.model_name}_change", args=[object_id])
        )

    @admin.action(description="Cancel selected pending or processing jobs", permissions=("rerun",))
    def cancel(self, request, queryset):
        """The API's cancel, for each selected job that is still pending or processing."""
        cancelled, refused = 0, []
        for job in queryset.filter(status__in=lifecycle.ACTIVE):
            try:
                self.cancel_job(job)
            except ApplicationError as exc:  # it finished meanwhile
                refused.append(f"{job.pk}: {exc.message}")
                continue
            cancelled += 1
        text = f"Cancelled {cancelled} job(s)."
        if left_alone := queryset.count() - cancelled - len(refused):
            text += f" Left {left_alone} alone: already finished or cancelled."
        self.message_user(request, text, messages.SUCCESS if cancelled else messages.WARNING)
        if refused:
            self.message_user(request, "Not cancelled: " + " | ".join(refused), messages.ERROR)

    @admin.display(description="error")
    def error_start(self, obj):
        # A pending job has no error of its own; an undelivered event is why it waits.
        return error_details(self.job_pending_reason(obj) or obj.last_error, ERROR_EXCERPT_CHARS)


# Timeline lines of no step's try: an operator's cancel or run again, the failure handler.
NOT_A_TRY = frozenset({CANCEL_STEP, RERUN_STEP, FAILURE_STEP})


def _timeline_rows(entries):
    """(at, +since previous, step, run, try, detail) per entry. Runs are numbered in the order
    they started (a line of `job_begin_run` with a new run id), as `attempts` counts them; a try
    is the step's 0-based attempt shown from 1; a detail equal to the one above is not
    repeated."""
    runs: list[str] = []
    previous_at = None
    previous_detail = None
    for raw in entries:
        entry = raw if isinstance(raw, dict) else {"detail": str(raw)}
        at = parse_datetime(str(entry.get("at") or ""))
        detail = str(entry.get("detail") or "")
        run_id = run_of_line(detail)
        if run_id and run_id not in runs:
            runs.append(run_id)
        since = (
            "+" + duration_text((at - previous_at).total_seconds()) if at and previous_at else ""
        )
        attempt = entry.get("attempt")
        step = entry.get("step", "")
        tried = (
            f"{attempt + 1}/{max_tries()}"
            if isinstance(attempt, int) and step not in NOT_A_TRY
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
