"""The Channel admin: delivery health at a glance, the latest deliveries, a
"send a test message" action and button, and the config form that never shows
a secret (forms.ChannelForm)."""

import json

from django.contrib import admin, messages
from django.db.models import Count
from django.urls import path
from django.utils.html import format_html

from ..models import Channel, Notification
from ..notifiers import NotifierError, mask_config, send_test
from . import actions
from .base import HistoryInline, SentinelAdmin
from .display import time_column
from .forms import ChannelForm


@admin.display(description="delivery", ordering="failure_streak")
def delivery_health(channel) -> str:
    if channel.is_failing:
        return format_html('<strong style="color:#b91c1c">failing: {} in a row</strong>', channel.failure_streak)
    if channel.failure_streak:
        return format_html('<span style="color:#d97706">{} failed in a row</span>', channel.failure_streak)
    return "ok"


# A test send is acting, not reading: viewers do not get it (docs/security.md §3).
@admin.action(description="Send a test message (no alert state changes)", permissions=["change"])
def send_test_message(modeladmin, request, queryset):
    for channel in queryset:
        try:
            modeladmin.message_user(request, send_test(channel), messages.SUCCESS)
        except NotifierError as exc:
            modeladmin.message_user(request, f"Test message through {channel.name} failed: {exc}", messages.ERROR)


class FailingFilter(admin.SimpleListFilter):
    title = "delivery"
    parameter_name = "delivery"

    def lookups(self, request, model_admin):
        return [("failing", "failing"), ("ok", "ok")]

    def queryset(self, request, queryset):
        from django.conf import settings

        threshold = settings.SENTINEL_CHANNEL_FAILING_AFTER
        if self.value() == "failing":
            return queryset.filter(failure_streak__gte=threshold)
        if self.value() == "ok":
            return queryset.filter(failure_streak__lt=threshold)
        return queryset


class RecentNotificationInline(HistoryInline):
    model = Notification
    fk_name = "channel"
    verbose_name_plural = "recent deliveries (newest first)"
    fields = ["created", "alert", "event", "status", "attempts", "sent", "last_error"]
    readonly_fields = fields
    show_change_link = True
    created, sent = time_column("created_at", "created"), time_column("sent_at", "sent")

    def get_queryset(self, request):
        qs = super().get_queryset(request).select_related("alert", "channel").order_by("-created_at")
        return qs

    def get_formset(self, request, obj=None, **kwargs):
        formset = super().get_formset(request, obj, **kwargs)
        # Only the latest few: a busy channel has thousands of rows.
        base = formset.get_queryset

        def latest(self_):
            ids = list(base(self_).values_list("pk", flat=True)[:20])
            return base(self_).filter(pk__in=ids)

        formset.get_queryset = latest
        return formset


@admin.register(Channel)
class ChannelAdmin(SentinelAdmin):
    form = ChannelForm
    list_display = ["name", "kind", "enabled", delivery_health, "last_failure_when", "alert_count"]
    list_filter = ["kind", "enabled", FailingFilter]
    search_fields = ["name"]
    readonly_fields = ["failure_streak", "last_failure_when", "last_failure"]
    last_failure_when = time_column("last_failure_at", "last failure at")
    actions = [send_test_message]
    inlines = [RecentNotificationInline]
    change_form_template = "admin/alerts/channel/change_form.html"

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(alert_total=Count("alerts"))

    @admin.display(description="alerts", ordering="alert_total")
    def alert_count(self, obj):
        return obj.alert_total

    @admin.display(description="config (secrets hidden)")
    def masked_config(self, obj):
        return format_html('<pre class="sn-mono">{}</pre>',
                           json.dumps(mask_config(obj.kind, obj.config or {}), indent=2, ensure_ascii=False))

    def get_fields(self, request, obj=None):
        # A read-only page shows fields as stored: the config is shown masked instead (docs/security.md §4).
        fields = super().get_fields(request, obj)
        if obj is not None and not self.has_change_permission(request, obj):
            return ["masked_config" if f == "config" else f for f in fields]
        return fields

    def get_urls(self):
        view = self.admin_site.admin_view(actions.test_channel_view(self))
        return [path("<path:object_id>/test-send/", view, name="alerts_channel_test")] + super().get_urls()
