from django import forms
from django.contrib import admin

from .models import Alert, AlertState, Channel, Datasource, DeliveryAttempt, Execution, Notification
from .secrets import mask_url


class DatasourceForm(forms.ModelForm):
    """Shows the URL with its password masked; saving the masked text keeps the stored password."""

    class Meta:
        model = Datasource
        fields = ["name", "url", "timeout_seconds", "row_limit", "enabled"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if self.instance.pk:
            self.initial["url"] = mask_url(self.instance.url)

    def clean_url(self):
        url = self.cleaned_data["url"]
        if self.instance.pk and url == mask_url(self.instance.url):
            return self.instance.url
        return url


@admin.register(Datasource)
class DatasourceAdmin(admin.ModelAdmin):
    form = DatasourceForm
    list_display = ["name", "display_url", "timeout_seconds", "row_limit", "enabled"]
    search_fields = ["name"]


@admin.register(Channel)
class ChannelAdmin(admin.ModelAdmin):
    list_display = ["name", "kind", "enabled"]
    list_filter = ["kind", "enabled"]


class AlertStateInline(admin.TabularInline):
    model = AlertState
    extra = 0
    can_delete = False
    fields = ["key", "state", "since", "breaches", "last_value", "last_notified_at"]
    readonly_fields = fields


@admin.register(Alert)
class AlertAdmin(admin.ModelAdmin):
    list_display = ["name", "state", "state_since", "enabled", "last_run_at", "last_status", "last_value", "datasource"]
    list_filter = ["state", "enabled", "severity", "datasource"]
    search_fields = ["name", "description", "query"]
    list_select_related = ["datasource"]
    filter_horizontal = ["channels"]
    readonly_fields = ["state", "state_since", "last_run_at", "last_status", "last_value", "firing_instances"]
    inlines = [AlertStateInline]


class NotificationInline(admin.TabularInline):
    model = Notification
    extra = 0
    can_delete = False
    fields = ["channel", "instance_key", "event", "status", "attempts", "last_error", "sent_at"]
    readonly_fields = fields


@admin.register(Execution)
class ExecutionAdmin(admin.ModelAdmin):
    list_display = ["alert", "scheduled_for", "trigger", "status", "duration_ms", "actual_value", "state_after"]
    list_filter = ["status", "trigger"]
    search_fields = ["alert__name"]
    list_select_related = ["alert"]
    date_hierarchy = "scheduled_for"
    show_full_result_count = False
    readonly_fields = [f.name for f in Execution._meta.fields]
    inlines = [NotificationInline]


class DeliveryAttemptInline(admin.TabularInline):
    model = DeliveryAttempt
    extra = 0
    can_delete = False
    fields = ["started_at", "ok", "status_code", "duration_ms", "error"]
    readonly_fields = fields


@admin.register(Notification)
class NotificationAdmin(admin.ModelAdmin):
    list_display = ["alert", "instance_key", "event", "channel", "status", "attempts", "created_at", "sent_at"]
    list_filter = ["status", "event", "channel"]
    list_select_related = ["alert", "channel"]
    show_full_result_count = False
    readonly_fields = [f.name for f in Notification._meta.fields]
    inlines = [DeliveryAttemptInline]
