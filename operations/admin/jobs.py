"""The job admins' base (videos, exports): what an operator needs beyond the job's own
fields. A pending job whose event never reached Inngest says so, with what to do, at the top of
its page and in the list's error column; a failed job's page has a "Run again" button (the
list's action, `jobs_rerun`, for this one job)."""

from django.contrib import admin, messages
from django.http import HttpResponseNotAllowed, HttpResponseRedirect
from django.urls import path, reverse

from core import lifecycle
from core.admin_common import (
    ERROR_EXCERPT_CHARS,
    TrackedJobAdmin,
    badge,
    error_details,
    report_rerun,
    stuck_after,
)
from core.errors import ApplicationError
from operations.services import jobs_rerun
from outbox.selectors import pending_reason, undelivered_event_error


class JobAdmin(TrackedJobAdmin):
    # "video" or "export": whose undelivered events explain a pending job (outbox selectors).
    event_job = "video"
    change_form_template = "admin/korai/job_change_form.html"

    def get_queryset(self, request):
        # In the same SELECT: a list or page costs no extra query for it.
        return (
            super()
            .get_queryset(request)
            .annotate(undelivered_error=undelivered_event_error(job=self.event_job))
        )

    def job_pending_reason(self, obj) -> str | None:
        if obj.status != lifecycle.PENDING:
            return None
        return pending_reason(getattr(obj, "undelivered_error", None))

    def can_run_again(self, request, obj) -> bool:
        return obj.status in lifecycle.RERUNNABLE and self.has_rerun_permission(request)

    def render_change_form(self, request, context, add=False, change=False, form_url="", obj=None):
        if obj is not None:
            opts = self.opts
            status = obj.status
            context["job_pending_reason"] = self.job_pending_reason(obj)
            context["job_status"] = badge(status)
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
            failed=True,
            cancelled=True,
            stuck_for=stuck_after(),
            **{f"{self.event_job}_ids": ids},
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
