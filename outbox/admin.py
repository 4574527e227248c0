import json

from django.contrib import admin, messages
from django.contrib.contenttypes.admin import GenericTabularInline
from django.db.models import Q
from django.utils.html import format_html

from core.admin import ReadOnlyInlineMixin, ReadOnlyModelAdmin, admin_link, badge, error_details
from core.events import EVENT_NAMES
from outbox.delivery import RESEND_BATCH_SIZE, DeliveryReport, events_deliver
from outbox.models import OutboxEvent

DELIVERY_TONES = {"delivered": "green", "undelivered": "amber", "delivery failed": "red"}


def delivery_state(event: OutboxEvent) -> str:
    if event.delivered_at:
        return "delivered"
    return "delivery failed" if event.attempts else "undelivered"


def delivery_badge(event: OutboxEvent):
    state = delivery_state(event)
    return badge(state, DELIVERY_TONES[state])


def report_delivery(model_admin, request, report: DeliveryReport) -> None:
    """One message per delivery pass: how many events went out, failed or were skipped, and why;
    with the development executor, how many it will take."""
    text = (
        f"Delivered {report.delivered} event(s); {report.failed} failed; "
        f"{report.skipped} skipped (already delivered or being sent)."
    )
    if report.for_dev_executor:
        text = (
            f"Recorded {report.for_dev_executor} event(s): the development executor will take "
            f"them. {report.skipped} skipped (already delivered)."
        )
        model_admin.message_user(request, text, messages.INFO)
    elif report.failed:
        model_admin.message_user(request, f"{text} {' | '.join(report.errors)}", messages.ERROR)
    else:
        model_admin.message_user(request, text, messages.SUCCESS)


class DeliveryFilter(admin.SimpleListFilter):
    title = "delivery"
    parameter_name = "delivery"
    FILTERS = {
        "undelivered": Q(delivered_at__isnull=True),
        "failed": Q(delivered_at__isnull=True, attempts__gt=0),
        "never-tried": Q(delivered_at__isnull=True, attempts=0),
        "delivered": Q(delivered_at__isnull=False),
    }

    def lookups(self, request, model_admin):
        return (
            ("undelivered", "Undelivered"),
            ("failed", "Undelivered, failed at least once"),
            ("never-tried", "Undelivered, never tried"),
            ("delivered", "Delivered"),
        )

    def queryset(self, request, queryset):
        condition = self.FILTERS.get(self.value())
        return queryset if condition is None else queryset.filter(condition)


class EventNameFilter(admin.SimpleListFilter):
    """The event names Korai sends, listed from code: a DISTINCT over the outbox is a full scan."""

    title = "event"
    parameter_name = "name"

    def lookups(self, request, model_admin):
        return tuple((name, name) for name in EVENT_NAMES)

    def queryset(self, request, queryset):
        return queryset.filter(name=self.value()) if self.value() else queryset


def deliver_in_batches(events) -> DeliveryReport:
    """Deliver the given rows the way `resend_events` does: one POST per batch, so selecting
    thousands of rows never builds one oversized request."""
    events = list(events)
    report = DeliveryReport()
    for start in range(0, len(events), RESEND_BATCH_SIZE):
        report.add(events_deliver(events=events[start : start + RESEND_BATCH_SIZE]))
    return report


@admin.register(OutboxEvent)
class OutboxEventAdmin(ReadOnlyModelAdmin):
    # The event id starts with the event's name: one column says both.
    list_display = (
        "created_at",
        "event_id",
        "subject",
        "delivery",
        "attempts_count",
        "last_attempt_at",
        "error_start",
    )
    list_display_links = ("event_id",)
    list_filter = (DeliveryFilter, EventNameFilter)
    search_fields = ("event_id",)
    search_help_text = "Event id (e.g. video/identify.clips:<video id>:1) or part of it."
    ordering = ("-created_at",)
    actions = ("resend_events",)
    fields = (
        "event_id",
        "name",
        "subject",
        "delivery",
        "attempts",
        "created_at",
        "last_attempt_at",
        "delivered_at",
        "last_error",
        "payload",
    )
    readonly_fields = fields

    def get_queryset(self, request):
        # One query per kind of job on the page, not one per row.
        return super().get_queryset(request).prefetch_related("job")

    def has_delete_permission(self, request, obj=None):
        # A job's next event id counts its earlier rows: deleting one would make the next
        # event reuse an id (rejected by the unique constraint, or dropped by Inngest as a dupe).
        return False

    @admin.display(description="job")
    def subject(self, obj):
        job = obj.job
        if job is None:
            return "—"
        return admin_link(job, job)

    @admin.display(description="delivery")
    def delivery(self, obj):
        return delivery_badge(obj)

    @admin.display(description="last error")
    def error_start(self, obj):
        return error_details(obj.last_error)

    @admin.display(description="attempts", ordering="attempts")
    def attempts_count(self, obj):
        return format_html(
            '<span title="{}">{}</span>',
            "Delivery attempts: POSTs of this event to Inngest's event API (a resend is one more).",
            obj.attempts,
        )

    @admin.display(description="data")
    def payload(self, obj):
        return format_html(
            '<pre class="korai-pre">{}</pre>', json.dumps(obj.data, indent=2, sort_keys=True)
        )

    @admin.action(description="Resend selected events (undelivered ones)", permissions=("rerun",))
    def resend_events(self, request, queryset):
        report_delivery(self, request, deliver_in_batches(queryset.order_by("created_at")))


class JobEventInline(ReadOnlyInlineMixin, GenericTabularInline):
    """A job's events with their delivery state: an undelivered one explains a job that never
    started, and the `resend` action delivers it. For any job model (its `events` relation)."""

    model = OutboxEvent
    ct_field = "job_type"
    ct_fk_field = "job_id"
    fields = ("created_at", "name", "event_id", "delivery", "attempts", "last_attempt_at", "error")
    readonly_fields = fields
    ordering = ("created_at",)
    verbose_name = "outbox event"

    @admin.display(description="delivery")
    def delivery(self, obj):
        return delivery_badge(obj)

    @admin.display(description="last error")
    def error(self, obj):
        return error_details(obj.last_error, 120)
