"""The Alert admin, the operator's console. The list reads denormalised fields and
one query per page (never one per row); the page explains what an alert does, did,
and will do next; buttons act at once and say what they did (actions.py)."""

from datetime import timedelta

from django.contrib import admin, messages
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html, format_html_join

from ..models import Alert, AlertState, EvaluationMode, State
from . import actions
from .base import HistoryInline, SentinelAdmin
from .display import (
    ago,
    badge,
    chart_history,
    display_state,
    duration,
    execution_lag,
    history_chart,
    next_runs,
    recent_values,
    run_labels,
    short_value,
    since_html,
    sparkline,
    stats_table,
    time_column,
    when,
)
from .forms import COMMON_TIMEZONES, AlertForm

HISTORY_ROWS = 20
CHART_POINTS = 200


class StateFilter(admin.SimpleListFilter):
    title = "state"
    parameter_name = "state"

    def lookups(self, request, model_admin):
        return [(s, s.replace("_", " ")) for s in State.values] + [("SILENCED", "SILENCED"), ("DISABLED", "DISABLED")]

    def queryset(self, request, queryset):
        value = self.value()
        if value == "DISABLED":
            return queryset.filter(enabled=False)
        if value == "SILENCED":
            return queryset.filter(silenced_until__gt=timezone.now())
        if value in State.values:
            return queryset.filter(state=value)
        return queryset


class SilencedFilter(admin.SimpleListFilter):
    title = "silenced"
    parameter_name = "silenced"

    def lookups(self, request, model_admin):
        return [("yes", "Yes"), ("no", "No")]

    def queryset(self, request, queryset):
        now = timezone.now()
        if self.value() == "yes":
            return queryset.filter(silenced_until__gt=now)
        if self.value() == "no":
            return queryset.exclude(silenced_until__gt=now)
        return queryset


class AlertStateInline(HistoryInline):
    model = AlertState
    verbose_name_plural = "instances (one per key; one row for an alert without key columns)"
    fields = ["key", "state", "since_when", "breaches", "value_as_of", "last_notified"]
    readonly_fields = fields
    since_when, last_notified = time_column("since", "since"), time_column("last_notified_at", "last notified")

    @admin.display(description="last value")
    def value_as_of(self, obj):
        # A run writes an instance only when it changes it (docs/writing-alerts.md): say which run's value this is.
        return f"{short_value(obj.last_value)} (as of {when(obj.updated_at)})"

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("alert")  # each row's label names its alert


@admin.action(description="Run selected alerts now", permissions=["change"])
def run_selected(modeladmin, request, queryset):
    for alert in queryset.select_related("datasource", "schedule")[:50]:
        level, said = actions.run_now(alert)
        modeladmin.log_change(request, alert, said)
        modeladmin.message_user(request, said, level)


@admin.action(description="Enable selected alerts", permissions=["change"])
def enable_selected(modeladmin, request, queryset):
    _set_enabled(modeladmin, request, queryset, True)


@admin.action(description="Disable selected alerts", permissions=["change"])
def disable_selected(modeladmin, request, queryset):
    _set_enabled(modeladmin, request, queryset, False)


def _set_enabled(modeladmin, request, queryset, enabled):
    names = []
    for alert in queryset:
        said = actions.set_enabled(alert, enabled, actions.who(request))
        modeladmin.log_change(request, alert, said)
        names.append(alert.name)
    verb = "Enabled" if enabled else "Disabled"
    modeladmin.message_user(request, f"{verb} {len(names)} alert(s): {', '.join(names[:10])}"
                                     + (" …" if len(names) > 10 else "") + ".", messages.SUCCESS)


@admin.action(description="Unsilence selected alerts", permissions=["change"])
def unsilence_selected(modeladmin, request, queryset):
    for alert in queryset:
        said = actions.unsilence(alert, actions.who(request))
        modeladmin.log_change(request, alert, said)
        modeladmin.message_user(request, said, messages.SUCCESS)


@admin.register(Alert)
class AlertAdmin(SentinelAdmin):
    form = AlertForm
    list_display = ["name_col", "state_col", "last_run_col", "next_run_col", "value_col", "trend_col",
                    "datasource", "schedule_col"]
    list_display_links = ["name_col"]
    list_filter = [StateFilter, "datasource", "schedule", "severity", "enabled", SilencedFilter]
    search_fields = ["name", "description", "query"]
    list_select_related = ["datasource", "schedule"]
    list_per_page = 50
    actions = [run_selected, enable_selected, disable_selected, unsilence_selected]
    filter_horizontal = ["channels"]
    inlines = [AlertStateInline]
    change_form_template = "admin/alerts/alert/change_form.html"
    fieldsets = [
        (None, {"fields": ["name", "description", "severity", "enabled"]}),
        ("Query", {
            "fields": ["datasource", "query"],
            "description": "One read-only SELECT. Press <b>Test query</b> to run it now without saving: "
                           "you see the rows and what Sentinel would decide.",
        }),
        ("Evaluation: how the rows become OK or a breach", {
            "fields": ["mode", ("value_column", "operator", "threshold"), "key_columns"],
            "description": "<b>status</b>: a <code>status</code> column says ALERT or OK. "
                           "<b>threshold</b>: the value column compared with the threshold. "
                           "<b>rows</b>: any row returned is a breach. With key columns each row is an instance "
                           "of its own (per host, per customer) and fires on its own.",
        }),
        ("Schedule", {
            "fields": ["schedule_text", "schedule_timezone"],
            "description": "The next five runs are previewed as you type, in the schedule's timezone and in UTC.",
        }),
        ("When to tell people", {
            "fields": ["pending_evaluations", "renotify_interval", "notify_on_recovery", "on_no_data", "on_error",
                       "grace", "channels"],
            "description": "A breach must repeat <i>pending evaluations</i> times before FIRING. People hear once when "
                           "it starts, again after the re-notify interval (e.g. <code>1h</code>), and once when "
                           "it resolves. <i>No data</i> and <i>error</i> say what an empty answer or a failed query counts as.",
        }),
        ("Silence", {
            "fields": ["silenced_until", "silence_reason", "silenced_by"],
            "description": "A silenced alert keeps running and recording; only its messages are held back.",
        }),
        ("Message and history", {
            "fields": ["subject_template", "body_template", "retention_days"],
            "classes": ["collapse"],
        }),
    ]

    # -- the list

    def get_changelist_instance(self, request):
        changelist = super().get_changelist_instance(request)
        annotate_page(list(changelist.result_list))
        return changelist

    @admin.display(description="alert", ordering="name")
    def name_col(self, obj):
        extra = ""
        if obj.firing_instances and obj.keys:
            extra = format_html(' <span class="sn-count" title="instances firing">{} firing</span>', obj.firing_instances)
        if obj.source_file:
            # Edits here are overwritten by the next `sentinel apply` of that file: say so in the list too.
            extra = format_html('{} <span class="sn-file" title="from file {}">file</span>', extra, obj.source_file)
        return format_html('<span class="sn-sev sn-sev-{}" title="{}"></span>{}{}', obj.severity, obj.severity,
                           obj.name, extra)

    @admin.display(description="state", ordering="state")
    def state_col(self, obj):
        shown = display_state(obj)
        title = ""
        if shown == "SILENCED":
            title = f"until {when(obj.silenced_until)}: {obj.silence_reason}; underlying state {obj.state}"
        elif shown == "DISABLED":
            title = f"last state {obj.state}"
        under = "" if shown == obj.state else format_html(' <span class="sn-under">{}</span>', obj.state)
        return format_html("{}{} {}", badge(shown, title), under, since_html(obj.state_since))

    @admin.display(description="last run", ordering="last_run_at")
    def last_run_col(self, obj):
        if obj.last_run_at is None:
            return format_html('<span class="sn-muted">{}</span>', "never")
        return format_html('{} <span class="sn-when" title="{}">{}</span>', badge(obj.last_status),
                           when(obj.last_run_at), ago(obj.last_run_at))

    @admin.display(description="next run")
    def next_run_col(self, obj):
        upcoming = getattr(obj, "_sn_next", None)
        if not obj.enabled:
            return format_html('<span class="sn-muted">{}</span>', "disabled")
        if not upcoming:
            return format_html('<span class="sn-muted">{}</span>', "by hand only" if obj.schedule_id is None else "-")
        local, utc = upcoming
        # Within a day the time says enough; further out, the weekday and date matter.
        shown = f"{local:%H:%M}" if utc - timezone.now() < timedelta(hours=20) else f"{local:%a %d %b %H:%M}"
        return format_html('<span title="{} UTC">{} {}</span>', f"{utc:%Y-%m-%d %H:%M}", shown, local.tzname())

    @admin.display(description="value / threshold")
    def value_col(self, obj):
        if obj.last_value is None:
            return format_html('<span class="sn-muted">{}</span>', "-")
        if obj.mode == EvaluationMode.THRESHOLD and obj.threshold is not None:
            return format_html('<span class="sn-mono">{}</span> <span class="sn-muted" title="breach when value {} {}">'
                               '(breach {} {})</span>', short_value(obj.last_value), obj.operator,
                               short_value(obj.threshold), obj.operator, short_value(obj.threshold))
        return format_html('<span class="sn-mono">{}</span>', short_value(obj.last_value))

    @admin.display(description="recent")
    def trend_col(self, obj):
        return sparkline(getattr(obj, "_sn_values", []), obj.threshold if obj.mode == EvaluationMode.THRESHOLD else None)

    @admin.display(description="schedule", ordering="schedule")
    def schedule_col(self, obj):
        return str(obj.schedule) if obj.schedule_id else "-"

    # -- the page

    def get_readonly_fields(self, request, obj=None):
        return ["silenced_by"]

    def get_urls(self):
        wrap = self.admin_site.admin_view
        urls = [
            path("<path:object_id>/run/", wrap(actions.alert_action_view(self, "run")), name="alerts_alert_run"),
            path("<path:object_id>/enable/", wrap(actions.alert_action_view(self, "enable")), name="alerts_alert_enable"),
            path("<path:object_id>/disable/", wrap(actions.alert_action_view(self, "disable")),
                 name="alerts_alert_disable"),
            path("<path:object_id>/silence/", wrap(actions.alert_action_view(self, "silence")),
                 name="alerts_alert_silence"),
            path("<path:object_id>/unsilence/", wrap(actions.alert_action_view(self, "unsilence")),
                 name="alerts_alert_unsilence"),
            path("test-query/", wrap(actions.test_query_view(self)), name="alerts_alert_test_query_new"),
            path("<path:object_id>/test-query/", wrap(actions.test_query_view(self)), name="alerts_alert_test_query"),
            path("backtest/", wrap(actions.backtest_view(self)), name="alerts_alert_backtest_new"),
            path("<path:object_id>/backtest/", wrap(actions.backtest_view(self)), name="alerts_alert_backtest"),
            path("backtests/<int:backtest_id>/", wrap(actions.backtest_status_view(self)),
                 name="alerts_alert_backtest_status"),
            path("backtests/<int:backtest_id>/cancel/", wrap(actions.backtest_cancel_view(self)),
                 name="alerts_alert_backtest_cancel"),
        ]
        return urls + super().get_urls()

    def changeform_view(self, request, object_id=None, form_url="", extra_context=None):
        extra_context = {**(extra_context or {}), "timezones": COMMON_TIMEZONES,
                         "silence_hours": actions.SILENCE_HOURS,
                         # Test query answers only those who may save the form it tests.
                         "sn_may_test_query": (self.has_change_permission(request) if object_id
                                               else self.has_add_permission(request))}
        if object_id:
            alert = Alert.objects.select_related("schedule", "datasource").filter(pk=object_id).first()
            if alert is not None:
                extra_context.update(alert_page_context(alert))
        response = super().changeform_view(request, object_id, form_url, extra_context)
        if getattr(request, "_sn_saved_alert", None) is not None:  # committed: ask its datasource (bounded)
            actions.say_query_check(request, request._sn_saved_alert)
        return response

    def save_model(self, request, obj, form, change):
        super().save_model(request, obj, form, change)
        request._sn_saved_alert = obj


def annotate_page(alerts: list) -> None:
    """Give one page of the alerts list its sparklines and next runs: one query, not one per row."""
    values = recent_values(alerts)
    now, upcoming = timezone.now(), {}
    for alert in alerts:
        alert._sn_values = values.get(alert.pk, [])
        if alert.schedule_id and alert.schedule_id not in upcoming:
            try:
                runs = next_runs(alert.schedule, 1, after=now)
            except Exception:  # a schedule the preview cannot read must not break the list
                runs = []
            upcoming[alert.schedule_id] = runs[0] if runs else None
        alert._sn_next = upcoming.get(alert.schedule_id)


def alert_page_context(alert: Alert) -> dict:
    latest = list(alert.executions.order_by("-scheduled_for")[:CHART_POINTS])
    try:
        # A disabled alert does not run: listing its schedule's ticks would say it does.
        upcoming = run_labels(next_runs(alert.schedule, 5)) if alert.enabled else []
    except Exception:
        upcoming = []
    return {
        "sn_alert": alert,
        "sn_state": display_state(alert),
        "sn_state_badge": badge(display_state(alert)),
        "sn_since": since_html(alert.state_since),
        "sn_last_run": ago(alert.last_run_at) if alert.last_run_at else "never",
        "sn_next_runs": upcoming,
        "sn_history_rows": executions_table(latest[:HISTORY_ROWS]),
        **_chart(alert, latest),
        "sn_silenced": alert.is_silenced(),
        "sn_executions_url": reverse("admin:alerts_execution_changelist") + f"?alert={alert.pk}",
        "sn_stats": stats_table(alert),
    }


def _chart(alert: Alert, latest: list) -> dict:
    runs, hours = chart_history(alert, latest, CHART_POINTS)
    span = f"{len(runs)} runs" + (f" and the {len(hours)} hours before them" if hours else "")
    return {"sn_chart": history_chart(runs, hours), "sn_chart_points": span}


def executions_table(executions) -> str:
    """The alert page's latest runs."""
    rows = format_html_join(
        "", '<tr><td><a href="{}">{}</a></td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td class="sn-mono">{}</td>'
            '<td class="sn-errtext">{}</td></tr>',
        ((reverse("admin:alerts_execution_change", args=[e.pk]), when(e.scheduled_for),
          badge(e.status), e.trigger, execution_lag(e), duration(e.duration_ms), short_value(e.actual_value),
          short_value(e.error or e.reason, 100)) for e in executions),
    )
    return rows
