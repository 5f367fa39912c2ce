"""Sentinel's data, top to bottom: where queries run, what they check, what they
last said, every execution, and every message sent about it."""

import logging
from datetime import timedelta

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MinValueValidator, RegexValidator
from django.db import models
from django.utils import timezone

from .notifiers import kind_choices
from .secrets import mask_url

log = logging.getLogger("sentinel.alerts")

name_validator = RegexValidator(
    r"^[A-Za-z0-9][A-Za-z0-9_.\-]*$",
    "Use letters, digits, '_', '.' and '-', starting with a letter or digit.",
)


class SilenceError(ValueError):
    """A silence that cannot be set (no reason, or an end in the past); the message says why."""


class State(models.TextChoices):
    OK = "OK"
    PENDING = "PENDING"
    FIRING = "FIRING"
    NO_DATA = "NO_DATA"
    ERROR = "ERROR"


class Severity(models.TextChoices):
    INFO = "info"
    WARNING = "warning"
    CRITICAL = "critical"


class EvaluationMode(models.TextChoices):
    STATUS = "status", "status column says ALERT or OK"
    THRESHOLD = "threshold", "value compared with a threshold"
    ROWS = "rows", "any returned row is a breach"


class Operator(models.TextChoices):
    GT = ">"
    GE = ">="
    LT = "<"
    LE = "<="
    EQ = "=="
    NE = "!="


class NoDataPolicy(models.TextChoices):
    NO_DATA = "no_data", "NO_DATA state of its own"
    OK = "ok", "treat as OK"
    ALERTING = "alerting", "treat as a breach"
    KEEP = "keep", "keep the last state"


class ErrorPolicy(models.TextChoices):
    ERROR = "error", "ERROR state of its own"
    ALERTING = "alerting", "treat as a breach"
    OK = "ok", "treat as OK"
    KEEP = "keep", "keep the last state"


class Trigger(models.TextChoices):
    SCHEDULE = "schedule"
    MANUAL = "manual"
    API = "api"
    CLI = "cli"


class ExecutionStatus(models.TextChoices):
    RUNNING = "RUNNING"
    OK = "OK"
    ALERT = "ALERT"
    NO_DATA = "NO_DATA"
    ERROR = "ERROR"
    TIMEOUT = "TIMEOUT"
    SKIPPED = "SKIPPED"
    MISSED = "MISSED"


class Event(models.TextChoices):
    FIRING = "firing"
    REPEAT = "repeat"
    RESOLVED = "resolved"
    ERROR = "error"
    NO_DATA = "no_data"


class NotificationStatus(models.TextChoices):
    PENDING = "pending"
    SENDING = "sending"
    SENT = "sent"
    FAILED = "failed"
    SUPPRESSED = "suppressed"


class Datasource(models.Model):
    """A database that alert queries read, reached through a SQLAlchemy URL.

    The URL may hold ${VAR} references; they are expanded when connecting, so
    the stored text need not contain the password at all."""

    name = models.CharField(max_length=100, unique=True, validators=[name_validator])
    url = models.CharField(max_length=1000, help_text="SQLAlchemy URL; ${VAR} is read from the environment.")
    timeout_seconds = models.FloatField(default=settings.SENTINEL_DEFAULT_QUERY_TIMEOUT)
    row_limit = models.PositiveIntegerField(default=settings.SENTINEL_DEFAULT_ROW_LIMIT)
    enabled = models.BooleanField(default=True)
    max_concurrent_queries = models.PositiveIntegerField(
        null=True, blank=True, validators=[MinValueValidator(1)],
        help_text="At most this many of its queries at once, across all workers; empty: no cap.",
    )
    spread_seconds = models.PositiveIntegerField(
        default=0,
        help_text="Start its alerts across this many seconds after each tick (at most half the schedule's "
                  "period), each at the same offset every tick; 0: all at the tick.",
    )
    source_file = models.CharField(max_length=500, blank=True, help_text="Set when the datasource came from a file.")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    @property
    def display_url(self) -> str:
        return mask_url(self.url)

    def clean(self) -> None:
        if not 0 < self.timeout_seconds <= settings.SENTINEL_QUERY_TIMEOUT_MAX:
            raise ValidationError(
                {"timeout_seconds": f"Must be between 0 and {settings.SENTINEL_QUERY_TIMEOUT_MAX} seconds."}
            )
        if self.row_limit is not None and self.row_limit > settings.SENTINEL_ROW_LIMIT_MAX:
            raise ValidationError(
                {"row_limit": f"Must be at most {settings.SENTINEL_ROW_LIMIT_MAX:,} rows (SENTINEL_ROW_LIMIT_MAX)."}
            )


class DatasourceSlot(models.Model):
    """One of a capped datasource's query slots (alerts/datasource_slots.py): a run holds one
    while its query runs, until `lease_expires_at`, renewed while the query is slow, so a
    dead worker's slot comes back when its lease runs out."""

    datasource = models.ForeignKey(Datasource, on_delete=models.CASCADE, related_name="slots")
    number = models.PositiveIntegerField(help_text="0 .. max_concurrent_queries - 1.")
    holder = models.CharField(max_length=64, blank=True, help_text="The holding run's token; empty: free.")
    lease_expires_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["datasource", "number"], name="datasource_slot_once"),
        ]

    def __str__(self) -> str:
        held = f"held until {self.lease_expires_at:%H:%M:%S} UTC" if self.holder else "free"
        return f"{self.datasource.name} slot {self.number}: {held}"


class Channel(models.Model):
    """Where notifications go. Secrets in config are ${VAR} references."""

    name = models.CharField(max_length=100, unique=True, validators=[name_validator])
    # The registry's kinds and labels (alerts/notifiers/), read when asked: a callable keeps a new kind
    # out of the migrations (0012 made the switch, with no SQL).
    kind = models.CharField(max_length=20, choices=kind_choices)
    config = models.JSONField(default=dict, blank=True)
    enabled = models.BooleanField(default=True)
    source_file = models.CharField(max_length=500, blank=True)
    # Delivery health, kept by alerts.delivery: notifications that failed for good in a row.
    failure_streak = models.PositiveIntegerField(default=0, editable=False)
    last_failure_at = models.DateTimeField(null=True, blank=True, editable=False)
    last_failure = models.TextField(blank=True, editable=False, help_text="Secrets scrubbed.")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return f"{self.name} ({self.kind})"

    @property
    def is_failing(self) -> bool:
        return self.failure_streak >= settings.SENTINEL_CHANNEL_FAILING_AFTER


class Alert(models.Model):
    name = models.CharField(max_length=200, unique=True, validators=[name_validator])
    description = models.TextField(blank=True)
    enabled = models.BooleanField(default=True)
    severity = models.CharField(max_length=10, choices=Severity.choices, default=Severity.WARNING)
    datasource = models.ForeignKey(Datasource, on_delete=models.PROTECT, related_name="alerts")
    query = models.TextField()
    schedule = models.ForeignKey(
        "schedules.Schedule", on_delete=models.PROTECT, null=True, blank=True, related_name="alerts"
    )

    # Evaluation: how the rows become an outcome (docs/writing-alerts.md).
    mode = models.CharField(max_length=10, choices=EvaluationMode.choices, default=EvaluationMode.STATUS)
    value_column = models.CharField(max_length=200, blank=True, help_text="Default: the first column.")
    operator = models.CharField(max_length=2, choices=Operator.choices, default=Operator.GT)
    threshold = models.FloatField(null=True, blank=True)
    key_columns = models.CharField(
        max_length=500, blank=True, help_text="Comma-separated; each distinct key is its own instance."
    )

    # State machine settings (alerts/states.py).
    pending_evaluations = models.PositiveIntegerField(default=1, help_text="Breaches in a row before FIRING.")
    renotify_interval = models.DurationField(null=True, blank=True, help_text="Repeat while firing; empty: never.")
    notify_on_recovery = models.BooleanField(default=True)
    on_no_data = models.CharField(max_length=10, choices=NoDataPolicy.choices, default=NoDataPolicy.NO_DATA)
    on_error = models.CharField(max_length=10, choices=ErrorPolicy.choices, default=ErrorPolicy.ERROR)
    grace = models.DurationField(null=True, blank=True, help_text="Runs starting later than this are MISSED.")
    # History: older executions (and their notifications) are pruned by alerts.retention.
    retention_days = models.PositiveIntegerField(
        null=True, blank=True, validators=[MinValueValidator(1)],
        help_text="Keep this alert's history this many days; empty: SENTINEL_RETENTION_DAYS (default 90).",
    )

    channels = models.ManyToManyField(Channel, blank=True, related_name="alerts")
    subject_template = models.CharField(max_length=500, blank=True)
    body_template = models.TextField(blank=True)

    silenced_until = models.DateTimeField(null=True, blank=True)
    silence_reason = models.CharField(max_length=500, blank=True)
    silenced_by = models.CharField(max_length=200, blank=True)

    # Denormalised from the latest execution, so lists need no per-row queries.
    state = models.CharField(max_length=10, choices=State.choices, default=State.OK)
    state_since = models.DateTimeField(null=True, blank=True)
    last_run_at = models.DateTimeField(null=True, blank=True)
    last_status = models.CharField(max_length=10, choices=ExecutionStatus.choices, blank=True)
    last_value = models.JSONField(null=True, blank=True)
    firing_instances = models.PositiveIntegerField(default=0)

    source_file = models.CharField(max_length=500, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]
        indexes = [models.Index(fields=["state", "name"]), models.Index(fields=["schedule", "enabled"])]

    def __str__(self) -> str:
        return self.name

    @property
    def keys(self) -> list[str]:
        return [k.strip() for k in self.key_columns.split(",") if k.strip()]

    def is_silenced(self, now=None) -> bool:
        return self.silenced_until is not None and self.silenced_until > (now or timezone.now())

    # --- the verbs: the admin button and list action, the API, the CLI and the silence link
    # all call these. Each one saves the model (never a queryset update()), because the
    # post_save signal is what keeps beat's PeriodicTask in step (alerts/signals.py).

    def set_enabled(self, enabled: bool, *, by: str) -> bool:
        """Enable or disable the alert; it runs (or stops running) from its schedule's next
        tick. Returns whether anything changed."""
        changed = self.enabled != enabled
        self.enabled = enabled
        self.save(update_fields=["enabled", "updated_at"])
        log.info("alert=%s %s by %s", self.name, "enabled" if enabled else "disabled", by)
        return changed

    def silence(self, until, reason: str, *, by: str, extend_only: bool = False) -> None:
        """Hold back the alert's messages until `until`; it keeps running and recording.
        A reason is required: the next on-call reads it. With extend_only, a silence that
        already lasts longer is kept (a link never shortens one)."""
        reason = " ".join((reason or "").split())
        if not reason:
            raise SilenceError("Say why you silence it (a reason is required): the next on-call reads it.")
        now = timezone.now()
        if until <= now:
            raise SilenceError(f"The silence would end at {until:%Y-%m-%d %H:%M:%S} UTC, which has passed.")
        if extend_only and self.silenced_until and self.silenced_until > until:
            until = self.silenced_until
        self.silenced_until, self.silence_reason, self.silenced_by = until, reason[:500], by[:200]
        self.save(update_fields=["silenced_until", "silence_reason", "silenced_by", "updated_at"])
        log.info("alert=%s silenced until %s by %s: %s", self.name, until.isoformat(), by, self.silence_reason)

    def unsilence(self, *, by: str) -> bool:
        """End the silence now; messages go out again. Returns whether it was silenced."""
        was = self.is_silenced()
        self.silenced_until, self.silence_reason, self.silenced_by = None, "", ""
        self.save(update_fields=["silenced_until", "silence_reason", "silenced_by", "updated_at"])
        if was:
            log.info("alert=%s unsilenced by %s", self.name, by)
        return was

    def clean(self) -> None:
        if self.mode == EvaluationMode.THRESHOLD and self.threshold is None:
            raise ValidationError({"threshold": "Threshold mode needs a threshold."})
        if self.pending_evaluations < 1:
            raise ValidationError({"pending_evaluations": "Must be at least 1."})
        if self.renotify_interval is not None and self.renotify_interval < timedelta(minutes=1):
            raise ValidationError({"renotify_interval": "Must be at least one minute."})


class AlertState(models.Model):
    """What the state machine remembers about one instance of an alert.

    An alert without key columns has one instance, key ""; a per-entity alert
    has one row per key it has seen."""

    alert = models.ForeignKey(Alert, on_delete=models.CASCADE, related_name="instances")
    key = models.CharField(max_length=500, blank=True, default="")
    state = models.CharField(max_length=10, choices=State.choices, default=State.OK)
    since = models.DateTimeField(default=timezone.now)
    breaches = models.PositiveIntegerField(default=0, help_text="Breaches in a row.")
    firing_open = models.BooleanField(default=False, help_text="A firing event awaits its resolution.")
    announced = models.BooleanField(default=False, help_text="That firing event reached people (not silenced).")
    last_notified_at = models.DateTimeField(null=True, blank=True)
    last_value = models.JSONField(null=True, blank=True)
    last_execution = models.ForeignKey("Execution", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["alert", "key"], name="alertstate_unique_instance")]

    def __str__(self) -> str:
        # Names, not ids: this is what the admin shows for the row.
        return f"{self.alert.name}{f' [{self.key}]' if self.key else ''}: {self.state}"


class Execution(models.Model):
    """One run of an alert for one tick. (alert, scheduled_for) is unique:
    inserting this row is how a run is claimed."""

    alert = models.ForeignKey(Alert, on_delete=models.CASCADE, related_name="executions")
    scheduled_for = models.DateTimeField(help_text="The tick; for manual runs, the moment it was asked for.")
    trigger = models.CharField(max_length=10, choices=Trigger.choices)
    status = models.CharField(max_length=10, choices=ExecutionStatus.choices, default=ExecutionStatus.RUNNING)
    reason = models.CharField(max_length=500, blank=True)
    started_at = models.DateTimeField(default=timezone.now)
    finished_at = models.DateTimeField(null=True, blank=True)
    duration_ms = models.FloatField(null=True, blank=True)
    lease_expires_at = models.DateTimeField(null=True, blank=True)
    attempts = models.PositiveSmallIntegerField(default=1)

    actual_value = models.JSONField(null=True, blank=True)
    threshold = models.JSONField(null=True, blank=True)
    row_count = models.PositiveIntegerField(null=True, blank=True)
    truncated = models.BooleanField(default=False)
    columns = models.JSONField(default=list, blank=True)
    preview = models.JSONField(default=list, blank=True, help_text="The first result rows, cells capped.")
    context = models.JSONField(default=dict, blank=True)
    error = models.TextField(blank=True)

    state_before = models.CharField(max_length=10, choices=State.choices, blank=True)
    state_after = models.CharField(max_length=10, choices=State.choices, blank=True)
    worker = models.CharField(max_length=200, blank=True)
    task_id = models.CharField(max_length=200, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["alert", "scheduled_for"], name="execution_once_per_tick"),
        ]
        indexes = [
            models.Index(fields=["alert", "-scheduled_for"], name="execution_latest_by_alert"),
            models.Index(fields=["status", "-scheduled_for"], name="execution_by_status"),
            # The admin's Executions list: newest first, across all alerts.
            models.Index(fields=["-scheduled_for", "-id"], name="execution_recent_first"),
            models.Index(fields=["finished_at"], name="execution_by_finished_at"),  # /metrics window
            # Retention's walk over the plain OK runs beyond the raw window (alerts/retention.py): the runs
            # kept there are not in it, so a pass does not read them again (bench/history_size.py --explain).
            models.Index(fields=["alert", "scheduled_for"], name="execution_plain_ok_by_alert",
                         condition=models.Q(status="OK", state_before=models.F("state_after"))),
        ]
        ordering = ["-scheduled_for"]

    def __str__(self) -> str:
        return f"{self.alert.name} at {self.scheduled_for:%Y-%m-%d %H:%M:%S} UTC: {self.status}"

    @property
    def is_finished(self) -> bool:
        return self.status != ExecutionStatus.RUNNING


class Notification(models.Model):
    """One message about one event of one instance to one channel."""

    execution = models.ForeignKey(Execution, on_delete=models.CASCADE, related_name="notifications")
    alert = models.ForeignKey(Alert, on_delete=models.CASCADE, related_name="notifications")
    instance_key = models.CharField(max_length=500, blank=True, default="")
    channel = models.ForeignKey(Channel, on_delete=models.CASCADE, related_name="notifications")
    event = models.CharField(max_length=10, choices=Event.choices)
    status = models.CharField(max_length=10, choices=NotificationStatus.choices, default=NotificationStatus.PENDING)
    payload = models.JSONField(default=dict, blank=True, help_text="What the message says, fixed at the event.")
    attempts = models.PositiveSmallIntegerField(default=0)
    last_error = models.TextField(blank=True)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    claimed_at = models.DateTimeField(null=True, blank=True, help_text="When the current send began (SENDING).")
    sent_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["execution", "instance_key", "channel", "event"], name="notification_once_per_event"
            ),
        ]
        indexes = [
            models.Index(fields=["status", "created_at"], name="notification_by_status"),
            models.Index(fields=["channel", "-created_at"], name="notification_by_channel"),
            models.Index(fields=["created_at"], name="notification_by_created_at"),  # /metrics window
        ]
        ordering = ["-created_at"]

    def __str__(self) -> str:
        """'resolved: orders_stuck → ops-webhook (sent)', with the instance key when there is one."""
        key = f" [{self.instance_key}]" if self.instance_key else ""
        return f"{self.event}: {self.alert.name}{key} → {self.channel.name} ({self.status})"


class DeliveryAttempt(models.Model):
    """Every try at sending a notification, kept for the people who debug it."""

    notification = models.ForeignKey(Notification, on_delete=models.CASCADE, related_name="delivery_attempts")
    started_at = models.DateTimeField(default=timezone.now)
    duration_ms = models.FloatField(default=0)
    ok = models.BooleanField(default=False)
    status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    error = models.TextField(blank=True)

    class Meta:
        ordering = ["started_at"]

    def __str__(self) -> str:
        outcome = "ok" if self.ok else "failed"
        code = f", HTTP {self.status_code}" if self.status_code else ""
        return f"{self.started_at:%Y-%m-%d %H:%M:%S} UTC: {outcome}{code}, {self.duration_ms:.0f} ms"


class WorkerHeartbeat(models.Model):
    """A celery worker's proof of life, written while it consumes (sentinel_project/celery_signals.py).

    The database, not the broker, carries it: the embedded broker has no broadcast to ping through."""

    name = models.CharField(max_length=200, unique=True)  # the worker's hostname, e.g. worker@host
    queues = models.JSONField(default=list)
    last_seen = models.DateTimeField()

    def __str__(self) -> str:
        return f"{self.name} ({', '.join(self.queues)}) at {self.last_seen:%Y-%m-%d %H:%M:%S} UTC"


class HourFigures(models.Model):
    """What the rollups of an hour hold of its runs, per alert (ExecutionRollup) and for every
    alert together (OverallRollup). Every figure adds up across hours and alerts: counts, sums
    (an average is sum / n), minima, maxima, the latest run, and durations and fire lags as
    log-spaced histograms (alerts/histograms.py) for the p95."""

    runs_ok = models.PositiveIntegerField(default=0)
    runs_alert = models.PositiveIntegerField(default=0)
    runs_no_data = models.PositiveIntegerField(default=0)
    runs_error = models.PositiveIntegerField(default=0)
    runs_timeout = models.PositiveIntegerField(default=0)
    runs_skipped = models.PositiveIntegerField(default=0)
    runs_missed = models.PositiveIntegerField(default=0)
    runs_running = models.PositiveIntegerField(default=0)
    # duration_ms of the runs that queried (OK, ALERT, NO_DATA, ERROR, TIMEOUT).
    duration_n = models.PositiveIntegerField(default=0)
    duration_sum = models.FloatField(null=True)
    duration_min = models.FloatField(null=True)
    duration_max = models.FloatField(null=True)
    duration_histogram = models.BinaryField(default=b"")
    # started_at - scheduled_for of the finished scheduled runs, in ms.
    lag_n = models.PositiveIntegerField(default=0)
    lag_min = models.FloatField(null=True)
    lag_max = models.FloatField(null=True)
    lag_histogram = models.BinaryField(default=b"")
    # The hour's latest answered run and latest ERROR or TIMEOUT, kept whole: the raw row may be pruned.
    last_success_at = models.DateTimeField(null=True)
    last_success_id = models.BigIntegerField(null=True)
    last_success_status = models.CharField(max_length=10, blank=True)
    last_failure_at = models.DateTimeField(null=True)
    last_failure_id = models.BigIntegerField(null=True)
    last_failure_status = models.CharField(max_length=10, blank=True)
    last_failure_error = models.TextField(blank=True)

    class Meta:
        abstract = True


class ExecutionRollup(HourFigures):
    """One alert's executions of one UTC hour, added up (alerts/rollups.py), so statistics over
    long windows read one row an hour instead of one a run."""

    alert = models.ForeignKey(Alert, on_delete=models.CASCADE, related_name="rollups")
    hour = models.DateTimeField(help_text="The hour's first instant (UTC): ticks in [hour, hour + 1 h).")
    # Numeric actual_value of the OK and ALERT runs (what the charts draw).
    value_n = models.PositiveIntegerField(default=0)
    value_sum = models.FloatField(null=True)
    value_min = models.FloatField(null=True)
    value_max = models.FloatField(null=True)
    value_last = models.FloatField(null=True)
    value_at = models.DateTimeField(null=True)
    # State changes into and out of FIRING: how many, the sum of their offsets from `hour` in
    # seconds, and the first one; with the runs that ended FIRING, time firing over any window.
    firing_in_n = models.PositiveIntegerField(default=0)
    firing_in_sum = models.FloatField(null=True)
    firing_in_first = models.DateTimeField(null=True)
    firing_out_n = models.PositiveIntegerField(default=0)
    firing_out_sum = models.FloatField(null=True)
    firing_out_first = models.DateTimeField(null=True)
    firing_runs = models.PositiveIntegerField(default=0)
    rolled_at = models.DateTimeField(help_text="When the raw rows were read: runs finished later are not in it.")

    class Meta:
        constraints = [models.UniqueConstraint(fields=["alert", "hour"], name="rollup_once_per_alert_hour")]
        indexes = [
            # The overall tier is made from an hour's rows of every alert (alerts/rollups.py).
            models.Index(fields=["hour"], name="rollup_by_hour"),
            # The overall time firing reads each alert's first hour in a window in which it fired.
            models.Index(fields=["alert", "hour"], name="rollup_firing_hours",
                         condition=models.Q(firing_runs__gt=0) | models.Q(firing_out_n__gt=0)),
        ]

    def __str__(self) -> str:
        return f"{self.alert.name} {self.hour:%Y-%m-%d %H}:00 UTC"


class RollupProgress(models.Model):
    """How far the rollups go (one row): every hour before `rolled_until` is rolled up for every
    alert, and every execution finished before `checked_until` is in its hour's rollup.
    Statistics read rollups below `rolled_until` only; retention prunes nothing above it."""

    rolled_until = models.DateTimeField(null=True)
    checked_until = models.DateTimeField(null=True)
    overall_from = models.DateTimeField(
        null=True, help_text="OverallRollup holds every rolled-up hour from here on; empty: all of them.")
    lease_expires_at = models.DateTimeField(null=True, help_text="A roll-up pass holds it until then.")

    def __str__(self) -> str:
        return f"rolled up until {self.rolled_until}"


class BacktestStatus(models.TextChoices):
    QUEUED = "queued"
    RUNNING = "running"
    DONE = "done"
    CANCELLED = "cancelled"
    FAILED = "failed"


class Backtest(models.Model):
    """What an alert would have done over past ticks (alerts/backtest.py): what was asked, how far
    it got, what it found. Not history: no execution, notification or state comes of it."""

    alert = models.ForeignKey(Alert, null=True, blank=True, on_delete=models.SET_NULL, related_name="backtests",
                              help_text="The saved alert it replays; empty for an unsaved form.")
    name = models.CharField(max_length=200)
    definition = models.JSONField(help_text="The alert as it was when asked (alerts/backtest.py definition_of).")
    start = models.DateTimeField()
    end = models.DateTimeField()
    status = models.CharField(max_length=10, choices=BacktestStatus.choices, default=BacktestStatus.QUEUED)
    ticks_total = models.PositiveIntegerField(default=0)
    ticks_done = models.PositiveIntegerField(default=0)
    cancel_requested = models.BooleanField(default=False)
    result = models.JSONField(null=True, blank=True)
    error = models.TextField(blank=True)
    requested_by = models.CharField(max_length=200, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(default=timezone.now, help_text="Its worker's latest word.")

    def __str__(self) -> str:
        return f"backtest {self.pk} of {self.name}: {self.status}"


class OverallRollup(HourFigures):
    """Every alert's executions of one UTC hour, added up from that hour's ExecutionRollup rows
    (alerts/rollups.py), so the overall statistics of a year read 8,760 rows, not one an alert
    an hour (17.5 million at 2,000 alerts). Time firing adds up per alert, not across alerts: the
    changes into and out of FIRING here give all but which alerts were firing as a window starts,
    which alerts/stats.py reads from each alert's first hour in it with a FIRING run. Of several
    alerts' latest runs on one tick, the highest id is kept, as the statistics pick it."""

    hour = models.DateTimeField(unique=True, help_text="The hour's first instant (UTC).")
    # Every alert's changes into and out of FIRING, as in ExecutionRollup (the sums' offsets from `hour`).
    firing_in_n = models.PositiveIntegerField(default=0)
    firing_in_sum = models.FloatField(null=True)
    firing_out_n = models.PositiveIntegerField(default=0)
    firing_out_sum = models.FloatField(null=True)
    last_success_alert = models.ForeignKey(Alert, null=True, on_delete=models.SET_NULL, related_name="+")
    last_failure_alert = models.ForeignKey(Alert, null=True, on_delete=models.SET_NULL, related_name="+")
    stale = models.BooleanField(
        default=False, help_text="An alert with runs in this hour was deleted: made again by the next roll-up pass.")
    made_at = models.DateTimeField()

    def __str__(self) -> str:
        return f"all alerts {self.hour:%Y-%m-%d %H}:00 UTC"
