"""What the API reads and writes. Alert input goes through the config checks
(alerts/config/schema.py), so a request and a file are held to the same rules."""

from types import SimpleNamespace

from django.core.exceptions import ValidationError as DjangoValidationError
from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from schedules.cron import zone

from ..config.export import schedule_text
from ..config.plan import normal_keys
from ..config.schema import ALERT_SETTINGS, Problems, check_alert, unknown_keys
from ..durations import DurationError, format_duration, parse_duration
from ..models import (
    Alert,
    Channel,
    Datasource,
    DeliveryAttempt,
    ErrorPolicy,
    EvaluationMode,
    Execution,
    ExecutionStatus,
    NoDataPolicy,
    Notification,
    NotificationStatus,
    Operator,
    Severity,
    State,
    Trigger,
)
from ..notifiers import mask_config

WRITABLE = ("name", "description", "enabled", "severity", "datasource", "query", "schedule", "timezone", "channels",
            *[k for k in ALERT_SETTINGS if k not in ("description", "enabled")])


def alert_definition(alert: Alert) -> dict:
    """The alert's writable keys, in the form a request sends them."""
    item = {key: getattr(alert, key) for key in ALERT_SETTINGS}
    item["key_columns"] = [k for k in normal_keys(alert.key_columns).split(",") if k]
    for key in ("renotify_interval", "grace"):
        item[key] = format_duration(item[key]) if item[key] is not None else None
    item.update(
        name=alert.name, datasource=alert.datasource.name, query=alert.query,
        schedule=schedule_text(alert.schedule) if alert.schedule else None,
        timezone=alert.schedule.timezone if alert.schedule else None,
        channels=sorted(c.name for c in alert.channels.all()),
    )
    return item


def field_errors(problems: Problems) -> dict:
    errors = {}
    for path, message in problems.items:
        key = str(path[0]) if path else "non_field_errors"
        errors.setdefault(key, []).append(message)
    return errors


class RefusesUnknownKeys:
    """A body key the serializer does not read is a 400 that names it, with the message a file
    gives ("Unknown key; did you mean 'threshold'?"), not silently dropped. The read-only keys of
    a GET answer are let through (and ignored), so a fetched body can be sent back changed."""

    what = "the request"
    renamed: dict = {}  # a key of the config file's form -> the API's name for it

    def run_validation(self, data=serializers.empty):
        unknown = self.unknown_key_errors(data)
        try:
            value = super().run_validation(data)
        except serializers.ValidationError as exc:
            if unknown and isinstance(exc.detail, dict):
                raise serializers.ValidationError({**unknown, **exc.detail}) from None
            raise
        if unknown:
            raise serializers.ValidationError(unknown)
        return value

    def unknown_key_errors(self, data) -> dict:
        if not isinstance(data, dict):
            return {}
        writable = [name for name, f in self.fields.items() if not f.read_only]
        ignored = {name for name, f in self.fields.items() if f.read_only} | {"csrfmiddlewaretoken"}
        problems = Problems()
        for key in data:
            if key in self.renamed:
                problems.add((key,), f"Unknown key; did you mean {self.renamed[key]!r}?")
        unknown_keys({k: None for k in data if k not in ignored and k not in self.renamed}, writable, (),
                     problems, self.what)
        return field_errors(problems)


class AlertSerializer(RefusesUnknownKeys, serializers.Serializer):
    what = "an alert"
    renamed = {"notify": "channels"}

    name = serializers.CharField(max_length=200, required=False, help_text="Letters, digits, '_', '.', '-'.")
    description = serializers.CharField(required=False, allow_blank=True)
    enabled = serializers.BooleanField(required=False, default=True)
    severity = serializers.ChoiceField(Severity.choices, required=False, default=Severity.WARNING)
    datasource = serializers.CharField(max_length=100, required=False, default="default",
                                       help_text="A datasource's name.")
    query = serializers.CharField(required=False, allow_blank=True, trim_whitespace=False,
                                  help_text="The SQL to run (required).")
    schedule = serializers.CharField(required=False, allow_null=True, max_length=200,
                                     help_text="Cron, a macro (@daily) or a preset (daily at 09:00); "
                                               "null: runs only when asked (required).")
    timezone = serializers.CharField(required=False, allow_null=True, max_length=64)
    channels = serializers.ListField(child=serializers.CharField(max_length=100), required=False, default=list)
    mode = serializers.ChoiceField(EvaluationMode.choices, required=False, default=EvaluationMode.STATUS)
    value_column = serializers.CharField(required=False, allow_blank=True, max_length=200)
    operator = serializers.ChoiceField(Operator.choices, required=False, default=Operator.GT)
    threshold = serializers.FloatField(required=False, allow_null=True)
    key_columns = serializers.ListField(child=serializers.CharField(max_length=200), required=False, default=list)
    pending_evaluations = serializers.IntegerField(required=False, min_value=1, max_value=10000, default=1)
    renotify_interval = serializers.CharField(required=False, allow_null=True, max_length=50,
                                              help_text="A duration such as 30m, 4h, 1d; null: never.")
    notify_on_recovery = serializers.BooleanField(required=False, default=True)
    on_no_data = serializers.ChoiceField(NoDataPolicy.choices, required=False, default=NoDataPolicy.NO_DATA)
    on_error = serializers.ChoiceField(ErrorPolicy.choices, required=False, default=ErrorPolicy.ERROR)
    grace = serializers.CharField(required=False, allow_null=True, max_length=50)
    subject_template = serializers.CharField(required=False, allow_blank=True, max_length=500)
    body_template = serializers.CharField(required=False, allow_blank=True)
    retention_days = serializers.IntegerField(required=False, allow_null=True, min_value=1, max_value=36500,
                                              help_text="Keep history this many days; null: the default.")

    id = serializers.IntegerField(read_only=True)
    state = serializers.ChoiceField(State.choices, read_only=True)
    state_since = serializers.DateTimeField(read_only=True, allow_null=True)
    last_run_at = serializers.DateTimeField(read_only=True, allow_null=True)
    last_status = serializers.CharField(read_only=True)
    last_value = serializers.JSONField(read_only=True, allow_null=True)
    firing_instances = serializers.IntegerField(read_only=True)
    silenced_until = serializers.DateTimeField(read_only=True, allow_null=True)
    silence_reason = serializers.CharField(read_only=True)
    source_file = serializers.CharField(read_only=True, help_text="Set when the alert came from a file: "
                                                                  "the next apply of that file overwrites edits.")
    created_at = serializers.DateTimeField(read_only=True)
    updated_at = serializers.DateTimeField(read_only=True)
    next_run = serializers.CharField(read_only=True, allow_null=True,
                                     help_text="The schedule's next tick, ISO 8601 in the alert's time zone with its "
                                               "offset; null when unscheduled or disabled.")
    last_run = serializers.CharField(read_only=True, allow_null=True,
                                     help_text="The schedule's latest tick at or before now (when it was last due; "
                                               "last_run_at says when it last ran); null when unscheduled or "
                                               "disabled.")

    def to_representation(self, alert: Alert):
        values = {f: getattr(alert, f) for f in ("id", "state", "state_since", "last_run_at", "last_status",
                                                 "last_value", "firing_instances", "silenced_until",
                                                 "silence_reason", "source_file", "created_at", "updated_at")}
        next_run, last_run = self.scheduled_runs(alert)
        return super().to_representation(SimpleNamespace(**alert_definition(alert), **values,
                                                         next_run=next_run, last_run=last_run))

    def scheduled_runs(self, alert: Alert) -> tuple[str | None, str | None]:
        """(next tick, latest tick at or before now) in the alert's zone; once per schedule per answer,
        since alerts share schedules and a list shows up to 500."""
        if alert.schedule is None or not alert.enabled:
            return None, None
        cache = self.context.setdefault("_scheduled_runs", {}) if isinstance(self.context, dict) else {}
        if alert.schedule_id not in cache:
            cache[alert.schedule_id] = scheduled_runs(alert.schedule, timezone.now())
        return cache[alert.schedule_id]

    def validate(self, attrs):
        if self.instance is not None and self.partial:
            sent = self.initial_keys(attrs)
            item = {**alert_definition(self.instance), **sent}
            if "schedule" in sent and sent["schedule"] is None and "timezone" not in sent:
                item["timezone"] = None  # unscheduling drops the schedule's time zone with it
        else:
            item = {k: v for k, v in attrs.items() if v is not None or k in ("schedule", "threshold")}
            item.setdefault("name", self.instance.name if self.instance else None)
            if item["name"] is None:
                del item["name"]
        for key in ("renotify_interval", "grace", "timezone", "threshold", "retention_days"):
            if item.get(key, 0) is None:
                del item[key]  # null is the default
        problems = Problems()
        spec = check_alert(item, (), problems, channels_key="channels")
        errors = field_errors(problems)
        if spec is not None:
            if not Datasource.objects.filter(name=spec.datasource).exists():
                errors.setdefault("datasource", []).append(f"No datasource named {spec.datasource!r}.")
            missing = sorted(set(spec.channels) - set(Channel.objects.filter(name__in=spec.channels)
                                                      .values_list("name", flat=True)))
            if missing:
                errors.setdefault("channels", []).append(f"No channel named {', '.join(map(repr, missing))}.")
            taken = Alert.objects.filter(name=spec.name)
            if self.instance is not None:
                taken = taken.exclude(pk=self.instance.pk)
            if taken.exists():
                errors.setdefault("name", []).append(f"An alert named {spec.name!r} exists already.")
        if errors:
            raise serializers.ValidationError(errors)
        return {"spec": spec}

    def initial_keys(self, attrs) -> dict:
        # PATCH: only what the request sent, not the serializer's defaults.
        sent = set(self.initial_data) if isinstance(self.initial_data, dict) else set()
        return {k: v for k, v in attrs.items() if k in sent}

    def create(self, validated_data):
        from ..config.plan import save_alert

        return save_alert(validated_data["spec"], source_file="")

    def update(self, instance, validated_data):
        from ..config.plan import save_alert

        return save_alert(validated_data["spec"], instance)


def scheduled_runs(schedule, now) -> tuple[str | None, str | None]:
    """The tick after now and the latest at or before it, as ISO 8601 in the schedule's zone (beat's arithmetic)."""
    upcoming = schedule.upcoming(1, after=now)
    try:
        latest = schedule.latest_tick(now)
    except DjangoValidationError:  # nothing in the last four years
        latest = None
    tz = zone(schedule.timezone)
    return (upcoming[0][0].isoformat() if upcoming else None, latest.astimezone(tz).isoformat() if latest else None)


class Preset(serializers.Serializer):
    name = serializers.CharField(help_text="Give this as an alert's schedule (files, API, admin).")
    cron = serializers.CharField(help_text="What it reads as, in the alert's time zone.")
    description = serializers.CharField()


class AlertFilter(serializers.Serializer):
    state = serializers.ChoiceField(State.choices, required=False)
    datasource = serializers.CharField(required=False, max_length=100)
    enabled = serializers.BooleanField(required=False, allow_null=True, default=None)


class SilenceSerializer(RefusesUnknownKeys, serializers.Serializer):
    what = "a silence"

    until = serializers.DateTimeField(required=False, help_text="Silence until this time ...")
    duration = serializers.CharField(required=False, max_length=50, help_text="... or for this long (30m, 2h, 1d).")
    reason = serializers.CharField(max_length=500, help_text="Why: required, the next on-call reads it.")

    def validate(self, attrs):
        if ("until" in attrs) == ("duration" in attrs):
            raise serializers.ValidationError({"non_field_errors": ["Give either until or duration."]})
        if "duration" in attrs:
            try:
                attrs["until"] = timezone.now() + parse_duration(attrs["duration"])
            except DurationError as exc:
                raise serializers.ValidationError({"duration": [str(exc)]}) from None
        elif attrs["until"] <= timezone.now():
            raise serializers.ValidationError({"until": ["Must be in the future."]})
        return attrs


class TickBinding(serializers.Serializer):
    """The tick parameters a run bound (docs/writing-alerts.md, Tick-bound queries)."""

    tick = serializers.DateTimeField()
    window_start = serializers.DateTimeField()
    window_end = serializers.DateTimeField()
    last_success = serializers.DateTimeField(allow_null=True)
    now = serializers.BooleanField(help_text="Bound for the moment of the request, not a past tick.")


class RunStarted(serializers.Serializer):
    execution_id = serializers.IntegerField()
    alert = serializers.CharField()
    status = serializers.CharField()
    url = serializers.CharField(help_text="Poll this for the outcome.")
    bound = TickBinding(allow_null=True, help_text="What the query's :tick, :window_start, :window_end and "
                        ":last_success are bound to; null when it uses none.")


class Transition(serializers.Serializer):
    key = serializers.CharField(help_text="The instance key ('' for an alert without key columns).")
    state = serializers.CharField(help_text="The state the alert would move to.")
    events = serializers.ListField(child=serializers.CharField(), help_text="Notifications it would cause.")


class DryRunResult(serializers.Serializer):
    alert = serializers.CharField()
    dry_run = serializers.BooleanField()
    status = serializers.ChoiceField(ExecutionStatus.choices)
    value = serializers.JSONField(allow_null=True)
    threshold = serializers.JSONField(allow_null=True)
    error = serializers.CharField(allow_blank=True)
    columns = serializers.ListField(child=serializers.CharField())
    rows = serializers.ListField(child=serializers.JSONField())
    transitions = Transition(many=True)
    bound = TickBinding(allow_null=True, help_text="What the query's :tick, :window_start, :window_end and "
                        ":last_success were bound to; null when it uses none.")


class Run(serializers.Serializer):
    local = serializers.CharField(help_text="ISO 8601 in the schedule's time zone, with its offset.")
    utc = serializers.DateTimeField()


def runs(schedule, count: int = 5) -> list[dict]:
    return [{"local": local.isoformat(), "utc": utc} for local, utc in schedule.upcoming(count)]


class AlertSchedule(serializers.Serializer):
    alert = serializers.CharField()
    enabled = serializers.BooleanField()
    schedule = serializers.CharField(allow_null=True)
    cron = serializers.CharField(allow_blank=True)
    interval_seconds = serializers.IntegerField(allow_null=True)
    timezone = serializers.CharField(allow_null=True)
    next_run = Run(allow_null=True)
    next_runs = Run(many=True)


class DeliveryAttemptSerializer(serializers.ModelSerializer):
    class Meta:
        model = DeliveryAttempt
        fields = ["started_at", "duration_ms", "ok", "status_code", "error"]


class NotificationSerializer(serializers.ModelSerializer):
    alert = serializers.SlugRelatedField(slug_field="name", read_only=True)
    channel = serializers.SlugRelatedField(slug_field="name", read_only=True)
    delivery_attempts = DeliveryAttemptSerializer(many=True, read_only=True)

    class Meta:
        model = Notification
        fields = ["id", "execution", "alert", "instance_key", "channel", "event", "status", "attempts", "last_error",
                  "next_attempt_at", "sent_at", "created_at", "delivery_attempts"]


class NotificationFilter(serializers.Serializer):
    alert = serializers.CharField(required=False, max_length=200)
    channel = serializers.CharField(required=False, max_length=100)
    status = serializers.ChoiceField(NotificationStatus.choices, required=False)
    execution = serializers.IntegerField(required=False, min_value=1, max_value=2**62)


class ExecutionSerializer(serializers.ModelSerializer):
    alert = serializers.SlugRelatedField(slug_field="name", read_only=True)

    class Meta:
        model = Execution
        fields = ["id", "alert", "scheduled_for", "trigger", "status", "reason", "started_at", "finished_at",
                  "duration_ms", "attempts", "actual_value", "threshold", "row_count", "truncated", "columns",
                  "preview", "context", "error", "state_before", "state_after"]


class ExecutionFilter(serializers.Serializer):
    alert = serializers.CharField(required=False, max_length=200)
    status = serializers.ChoiceField(ExecutionStatus.choices, required=False)
    trigger = serializers.ChoiceField(Trigger.choices, required=False)
    since = serializers.DateTimeField(required=False, help_text="scheduled_for at or after")
    until = serializers.DateTimeField(required=False, help_text="scheduled_for before")


# --- statistics (alerts/stats.py computes them; docs/api.md says what each figure means)


class StatsQuery(serializers.Serializer):
    since = serializers.CharField(required=False, max_length=50,
                                  help_text="How far back from end: 24h (default), 7d, 30d, 1h30m.")
    start = serializers.DateTimeField(required=False, help_text="Ticks at or after this (instead of since).")
    end = serializers.DateTimeField(required=False, help_text="Ticks before this (default: now).")

    def validate(self, attrs):
        from ..stats import WindowError, window

        try:
            attrs["window"] = window(attrs.get("since"), attrs.get("start"), attrs.get("end"))
        except WindowError as exc:
            key = "since" if str(exc).startswith("since") else "non_field_errors"
            raise serializers.ValidationError({key: [str(exc)]}) from None
        return attrs


class LastRunSerializer(serializers.Serializer):
    at = serializers.DateTimeField(help_text="The run's tick.")
    status = serializers.ChoiceField(ExecutionStatus.choices)
    execution_id = serializers.IntegerField()
    alert = serializers.CharField()
    error = serializers.CharField(allow_blank=True, help_text="For a failure: its error, secrets scrubbed.")


class StatusCounts(serializers.Serializer):
    OK = serializers.IntegerField()
    ALERT = serializers.IntegerField()
    NO_DATA = serializers.IntegerField()
    ERROR = serializers.IntegerField()
    TIMEOUT = serializers.IntegerField()
    SKIPPED = serializers.IntegerField()
    MISSED = serializers.IntegerField()


class StatsSerializer(serializers.Serializer):
    alert = serializers.CharField(allow_null=True, help_text="null: every alert together.")
    start = serializers.DateTimeField()
    end = serializers.DateTimeField()
    runs = serializers.IntegerField(help_text="Finished runs whose tick is in the window.")
    running = serializers.IntegerField(help_text="Runs still RUNNING (not in runs).")
    counts = StatusCounts()
    success_rate = serializers.FloatField(allow_null=True, help_text="(OK + ALERT + NO_DATA) / runs; null: no runs.")
    error_rate = serializers.FloatField(allow_null=True, help_text="(ERROR + TIMEOUT) / runs; null: no runs.")
    duration_min_ms = serializers.FloatField(allow_null=True)
    duration_avg_ms = serializers.FloatField(allow_null=True)
    duration_p95_ms = serializers.FloatField(allow_null=True)
    duration_max_ms = serializers.FloatField(allow_null=True)
    fire_lag_p95_ms = serializers.FloatField(allow_null=True, help_text="started_at - tick, scheduled runs.")
    last_success = LastRunSerializer(allow_null=True)
    last_failure = LastRunSerializer(allow_null=True)
    firing_seconds = serializers.FloatField(help_text="Time the alert was FIRING in the window (summed over "
                                                      "alerts for /api/stats).")


class DatasourceSerializer(serializers.ModelSerializer):
    url = serializers.CharField(source="display_url", read_only=True, help_text="Passwords show as ***.")

    class Meta:
        model = Datasource
        fields = ["id", "name", "url", "timeout_seconds", "row_limit", "enabled", "max_concurrent_queries",
                  "spread_seconds", "source_file", "created_at", "updated_at"]


class ChannelSerializer(serializers.ModelSerializer):
    config = serializers.SerializerMethodField(help_text="Secrets show as ***; ${VAR} references as written.")

    class Meta:
        model = Channel
        fields = ["id", "name", "kind", "config", "enabled", "source_file", "created_at", "updated_at"]

    @extend_schema_field(OpenApiTypes.OBJECT)
    def get_config(self, channel) -> dict:
        return mask_config(channel.kind, channel.config or {})


class ScheduleSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    cron = serializers.CharField(allow_blank=True)
    interval_seconds = serializers.IntegerField(allow_null=True)
    timezone = serializers.CharField()
    alerts = serializers.ListField(child=serializers.CharField())
    next_runs = Run(many=True)

    def to_representation(self, schedule):
        return super().to_representation(SimpleNamespace(
            id=schedule.pk, cron=schedule.cron, interval_seconds=schedule.interval_seconds,
            timezone=schedule.timezone, alerts=sorted(a.name for a in schedule.alerts.all()),
            next_runs=runs(schedule),
        ))


class BacktestSpan(RefusesUnknownKeys, serializers.Serializer):
    """Which past ticks a backtest replays (alerts/backtest.py)."""

    what = "a backtest"

    since = serializers.CharField(required=False, max_length=50, help_text="The last N: 7d, 24h, 90m ...")
    start = serializers.DateTimeField(required=False, help_text="... or from this moment (ISO 8601) ...")
    end = serializers.DateTimeField(required=False, help_text="... to this one (default: now).")


class UnsavedBacktest(BacktestSpan):
    """A backtest of a definition that is not saved: the alert's keys as POST /api/alerts takes them."""

    alert = serializers.DictField(help_text="The alert's keys, as POST /api/alerts takes them (name optional).")


class BacktestStarted(serializers.Serializer):
    id = serializers.IntegerField()
    alert = serializers.CharField()
    status = serializers.CharField()
    ticks_total = serializers.IntegerField(help_text="How many ticks of its schedule it replays.")
    url = serializers.CharField(help_text="GET it for the progress and, once done, the result.")


class BacktestSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    alert = serializers.CharField()
    saved = serializers.BooleanField(help_text="A saved alert (false: an unsaved definition).")
    status = serializers.ChoiceField(["queued", "running", "done", "cancelled", "failed", "abandoned"])
    start = serializers.DateTimeField()
    end = serializers.DateTimeField()
    ticks_total = serializers.IntegerField()
    ticks_done = serializers.IntegerField()
    cancel_requested = serializers.BooleanField()
    error = serializers.CharField(allow_blank=True)
    requested_by = serializers.CharField(allow_blank=True)
    created_at = serializers.DateTimeField()
    started_at = serializers.DateTimeField(allow_null=True)
    finished_at = serializers.DateTimeField(allow_null=True)
    result = serializers.JSONField(allow_null=True, help_text="Once it ended: summary, events, chart, timeline "
                                                              "(docs/writing-alerts.md, Backtests).")
