import json

from django.contrib import admin
from django.db.models import Q
from django.utils.html import format_html

from core.admin_common import (
    ReadOnlyAdminMixin,
    ReadOnlyInline,
    admin_link,
    badge,
    delivery_state,
    error_details,
    report_delivery,
)
from core.events import EVENT_NAMES
from outbox.delivery import RESEND_BATCH_SIZE, DeliveryReport, events_deliver
from outbox.models import OutboxEvent


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
class OutboxEventAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
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
    list_select_related = ("video", "export")
    list_filter = (DeliveryFilter, EventNameFilter)
    search_fields = ("event_id",)
    search_help_text = "Event id (e.g. video/identify.clips:<video id>:1) or part of it."
    ordering = ("-created_at",)
    list_per_page = 100
    show_full_result_count = False
    show_facets = admin.ShowFacets.NEVER
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

    def has_delete_permission(self, request, obj=None):
        # A subject's next event id counts its earlier rows: deleting one would make the next
        # event reuse an id (rejected by the unique constraint, or dropped by Inngest as a dupe).
        return False

    @admin.display(description="job")
    def subject(self, obj):
        job = obj.export if obj.export_id else obj.video
        if job is None:
            return "—"
        return admin_link(job, job)

    @admin.display(description="delivery")
    def delivery(self, obj):
        return badge(delivery_state(obj))

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


class JobEventInline(ReadOnlyInline):
    """A job's events with their delivery state: an undelivered one explains a job that never
    started, and the `resend` action delivers it."""

    model = OutboxEvent
    fields = ("created_at", "name", "event_id", "delivery", "attempts", "last_attempt_at", "error")
    readonly_fields = fields
    ordering = ("created_at",)
    verbose_name = "outbox event"

    @admin.display(description="delivery")
    def delivery(self, obj):
        return badge(delivery_state(obj))

    @admin.display(description="last error")
    def error(self, obj):
        return error_details(obj.last_error, 120)


class VideoEventInline(JobEventInline):
    fk_name = "video"


class ExportEventInline(JobEventInline):
    fk_name = "export"
