"""The run history's admins: executions and the notifications they caused, with
their delivery attempts. Read-only (the runner and delivery write them), filtered
by alert and time, and never counting the whole table (display.CappedCountPaginator)."""

from datetime import timedelta

from django.contrib import admin
from django.urls import reverse
from django.utils import timezone
from django.utils.html import format_html

from ..models import DeliveryAttempt, Execution, Notification
from .base import HistoryInline, ReadOnlyAdmin
from .display import (
    CappedCountPaginator,
    ago,
    badge,
    duration,
    execution_lag,
    preview_table,
    short_value,
    time_column,
    when,
)


class AlertFilter(admin.SimpleListFilter):
    """By alert id or exact name, typed in: a list of 10,000 alert links would not help anyone."""

    title = "alert"
    parameter_name = "alert"
    template = "admin/alerts/input_filter.html"

    def lookups(self, request, model_admin):
        return []

    def has_output(self):
        return True

    def queryset(self, request, queryset):
        value = (self.value() or "").strip()
        if not value:
            return queryset
        if value.isdigit():
            return queryset.filter(alert_id=int(value))
        return queryset.filter(alert__name=value)

    def choices(self, changelist):
        # The other filters in force ride along as hidden inputs, so typing a name narrows them down.
        others = [(k, v) for k, v in changelist.params.items() if k not in (self.parameter_name, "p")]
        yield {"value": self.value() or "", "parameter_name": self.parameter_name, "others": others,
               "clear_url": changelist.get_query_string(remove=[self.parameter_name])}


class WhenFilter(admin.SimpleListFilter):
    title = "tick"
    parameter_name = "when"
    field = "scheduled_for"
    SPANS = {"1h": ("last hour", 1), "24h": ("last 24 hours", 24), "7d": ("last 7 days", 24 * 7),
             "30d": ("last 30 days", 24 * 30)}

    def lookups(self, request, model_admin):
        return [(key, label) for key, (label, _) in self.SPANS.items()]

    def queryset(self, request, queryset):
        span = self.SPANS.get(self.value())
        if span is None:
            return queryset
        return queryset.filter(**{f"{self.field}__gte": timezone.now() - timedelta(hours=span[1])})


class NotificationInline(HistoryInline):
    model = Notification
    fk_name = "execution"
    verbose_name_plural = "notifications this execution caused"
    fields = ["channel", "instance_key", "event", "status", "attempts", "last_error", "sent"]
    readonly_fields = fields
    show_change_link = True
    sent = time_column("sent_at", "sent")

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("alert", "channel")  # each row's label names them


@admin.register(Execution)
class ExecutionAdmin(ReadOnlyAdmin):
    list_display = ["tick", "alert_link", "status_col", "trigger", "lag", "duration_col", "value_col",
                    "state_change", "problem"]
    list_filter = ["status", "trigger", AlertFilter, WhenFilter]
    list_select_related = ["alert"]
    sortable_by = ["tick"]
    # Facet counts and the full count would each scan the whole history table.
    show_facets = admin.ShowFacets.NEVER
    show_full_result_count = False
    paginator = CappedCountPaginator
    list_per_page = 100
    inlines = [NotificationInline]
    fieldsets = [
        ("Outcome", {"fields": ["alert_link", "status_col", "reason", "error_block", "value_col", "state_change"]}),
        ("Result", {"fields": ["result_table", "row_count", "truncated", "context"]}),
        ("Timings", {"fields": ["tick", "started", "finished", "lag", "duration_col", "trigger",
                                "attempts", "worker", "task_id"]}),
    ]
    readonly_fields = ["alert_link", "status_col", "reason", "error_block", "value_col", "state_change",
                       "result_table", "row_count", "truncated", "context", "tick", "started",
                       "finished", "lag", "duration_col", "trigger", "attempts", "worker", "task_id"]
    started, finished = time_column("started_at", "started"), time_column("finished_at", "finished")

    @admin.display(description="tick", ordering="scheduled_for")
    def tick(self, obj):
        return format_html('<span title="{}">{}</span>', ago(obj.scheduled_for), when(obj.scheduled_for))

    @admin.display(description="alert")
    def alert_link(self, obj):
        url = reverse("admin:alerts_alert_change", args=[obj.alert_id])
        return format_html('<a href="{}">{}</a>', url, obj.alert.name)

    @admin.display(description="status")
    def status_col(self, obj):
        return badge(obj.status)

    @admin.display(description="lag")
    def lag(self, obj):
        return execution_lag(obj)

    @admin.display(description="duration")
    def duration_col(self, obj):
        return duration(obj.duration_ms)

    @admin.display(description="value / threshold")
    def value_col(self, obj):
        if obj.threshold is None:
            return short_value(obj.actual_value)
        return f"{short_value(obj.actual_value)} / {short_value(obj.threshold)}"

    @admin.display(description="state")
    def state_change(self, obj):
        if not obj.state_after:
            return "-"
        if obj.state_before == obj.state_after:
            return obj.state_after
        return format_html("{} → <b>{}</b>", obj.state_before or "-", obj.state_after)

    @admin.display(description="error / reason")
    def problem(self, obj):
        text = obj.error or obj.reason
        return format_html('<span class="sn-errtext" title="{}">{}</span>', text, short_value(text, 80)) if text else ""

    @admin.display(description="error")
    def error_block(self, obj):
        return format_html('<pre class="sn-error-block">{}</pre>', obj.error) if obj.error else "-"

    @admin.display(description="result rows")
    def result_table(self, obj):
        note = ""
        if obj.row_count is not None and obj.row_count > len(obj.preview):
            note = format_html('<p class="sn-muted">First {} of {} rows.</p>', len(obj.preview), obj.row_count)
        return format_html("{}{}", preview_table(obj.columns, obj.preview), note)


class DeliveryAttemptInline(HistoryInline):
    model = DeliveryAttempt
    fields = ["started", "ok", "status_code", "took", "error"]
    readonly_fields = fields
    started = time_column("started_at", "started")

    @admin.display(description="duration")
    def took(self, obj):
        return duration(obj.duration_ms)


class CreatedWhenFilter(WhenFilter):
    title = "created"
    field = "created_at"


@admin.register(Notification)
class NotificationAdmin(ReadOnlyAdmin):
    list_display = ["created", "alert_link", "instance_key", "event", "channel", "status_col", "attempts",
                    "sent", "error_short"]
    list_filter = ["status", "event", "channel", CreatedWhenFilter]
    list_select_related = ["alert", "channel"]
    sortable_by = ["created"]
    show_facets = admin.ShowFacets.NEVER
    show_full_result_count = False
    paginator = CappedCountPaginator
    list_per_page = 100
    readonly_fields = ["alert_link", "execution_link", "channel", "instance_key", "event", "status_col", "attempts",
                       "last_error", "next_attempt", "claimed", "sent", "created", "payload"]
    fields = readonly_fields
    inlines = [DeliveryAttemptInline]
    created, sent = time_column("created_at", "created"), time_column("sent_at", "sent")
    next_attempt, claimed = time_column("next_attempt_at", "next attempt"), time_column("claimed_at", "claimed")

    @admin.display(description="alert")
    def alert_link(self, obj):
        return format_html('<a href="{}">{}</a>', reverse("admin:alerts_alert_change", args=[obj.alert_id]),
                           obj.alert.name)

    @admin.display(description="execution")
    def execution_link(self, obj):
        return format_html('<a href="{}">execution {}</a>',
                           reverse("admin:alerts_execution_change", args=[obj.execution_id]), obj.execution_id)

    @admin.display(description="status")
    def status_col(self, obj):
        return badge(obj.status)

    @admin.display(description="last error")
    def error_short(self, obj):
        return short_value(obj.last_error, 80) if obj.last_error else ""
