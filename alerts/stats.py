"""Job statistics over a window, per alert and overall: what SQL Sentinel's
"Enhanced Scheduler" reported per job, computed from the Execution rows.

Every face (GET /api/alerts/{name}/stats and /api/stats, the alert's admin page,
`sentinel stats`) calls window() and then alert_stats() or overall_stats(), so
they show the same figures. The meaning of each figure is in docs/api.md
("Statistics"); in short:

- the window is a range of ticks (scheduled_for), start included, end excluded;
- runs = finished executions (RUNNING ones are counted apart, as `running`);
- success rate = runs that ended with an answer (OK, ALERT, NO_DATA) / runs;
  a firing alert is a working job. Error rate = (ERROR + TIMEOUT) / runs.
  SKIPPED and MISSED are in neither, so they lower the success rate;
- durations are of the runs that queried (SKIPPED and MISSED did not);
- fire lag = started_at - scheduled_for of the scheduled runs;
- p95 is percentile_cont's (linear interpolation), on every database;
- last success / last failure (ERROR or TIMEOUT) are the latest in the window;
- time firing comes from the state transitions each execution records
  (state_before -> state_after, the alert's worst instance state), timed at the
  tick, clipped to the window and to now.

One aggregate query per call (plus, on SQLite, two small index-range queries
for the percentiles, and one for the last success and failure rows)."""

import math
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta

from django.db import connection
from django.db.models import (
    Aggregate, Avg, Count, DurationField, ExpressionWrapper, F, FloatField, Func, Max, Min, Q, Sum, Value,
)
from django.utils import timezone

from .durations import DurationError, format_duration, parse_duration
from .models import Execution, ExecutionStatus, State, Trigger

DEFAULT_WINDOW = timedelta(hours=24)
SUCCESS = (ExecutionStatus.OK, ExecutionStatus.ALERT, ExecutionStatus.NO_DATA)
FAILURE = (ExecutionStatus.ERROR, ExecutionStatus.TIMEOUT)
QUERIED = SUCCESS + FAILURE
STATUSES = [s for s in ExecutionStatus.values if s != ExecutionStatus.RUNNING]
P95 = 0.95


class WindowError(ValueError):
    """A window that cannot be read; the message says what would be."""


@dataclass(frozen=True)
class Window:
    start: datetime
    end: datetime

    @property
    def seconds(self) -> float:
        return (self.end - self.start).total_seconds()


def window(since=None, start: datetime | None = None, end: datetime | None = None,
           now: datetime | None = None) -> Window:
    """The ticks to count: `since` (a duration, '24h', '7d') back from `end` (default now), or
    `start` to `end`. Default: the last 24 hours."""
    now = now or timezone.now()
    if since not in (None, "") and start is not None:
        raise WindowError("Give either since (a duration) or start, not both.")
    end = end or now
    if start is None:
        try:
            span = parse_duration(since) if since not in (None, "") else DEFAULT_WINDOW
        except DurationError as exc:
            raise WindowError(f"since: {exc}") from None
        start = end - span
    if start >= end:
        raise WindowError(f"The window must end after it starts ({start.isoformat()} is not before "
                          f"{end.isoformat()}).")
    return Window(start, end)


@dataclass
class LastRun:
    at: datetime
    status: str
    execution_id: int
    alert: str
    error: str = ""


@dataclass
class Stats:
    alert: str | None
    start: datetime
    end: datetime
    runs: int = 0
    running: int = 0
    counts: dict = field(default_factory=lambda: {s: 0 for s in STATUSES})
    success_rate: float | None = None
    error_rate: float | None = None
    duration_min_ms: float | None = None
    duration_avg_ms: float | None = None
    duration_p95_ms: float | None = None
    duration_max_ms: float | None = None
    fire_lag_p95_ms: float | None = None
    last_success: LastRun | None = None
    last_failure: LastRun | None = None
    firing_seconds: float = 0.0

    def as_dict(self) -> dict:
        return asdict(self)


class Epoch(Func):
    """Seconds since 1970 as a float, on PostgreSQL and SQLite alike."""

    output_field = FloatField()

    def as_postgresql(self, compiler, conn, **extra):
        # date_part is float8; EXTRACT is numeric since PostgreSQL 14, several times slower to sum.
        return self.as_sql(compiler, conn, template="date_part('epoch', %(expressions)s)", **extra)

    def as_sqlite(self, compiler, conn, **extra):
        # Django stores UTC text there; julianday() reads it to about 0.04 ms.
        return self.as_sql(compiler, conn, template="((julianday(%(expressions)s) - 2440587.5) * 86400.0)",
                           **extra)


class Percentile(Aggregate):
    """percentile_cont(fraction) WITHIN GROUP (ORDER BY expression): PostgreSQL only."""

    function = "percentile_cont"
    template = "%(function)s(%(fraction)s) WITHIN GROUP (ORDER BY %(expressions)s)"
    output_field = FloatField()


def _lag():
    return Epoch("started_at") - Epoch("scheduled_for")


def _scope(executions, w: Window):
    return executions.filter(scheduled_for__gte=w.start, scheduled_for__lt=w.end)


def _aggregates(w: Window) -> dict:
    firing_in = Q(state_after=State.FIRING) & ~Q(state_before=State.FIRING) & ~Q(state_before="")
    firing_out = Q(state_before=State.FIRING) & ~Q(state_after=State.FIRING) & ~Q(state_after="")
    # Relative to the window's start: small numbers keep the sums exact.
    at = Epoch("scheduled_for") - Value(w.start.timestamp())
    queried, scheduled = Q(status__in=QUERIED), Q(trigger=Trigger.SCHEDULE) & ~Q(status=ExecutionStatus.RUNNING)
    figures = {
        **{f"n_{s}": Count("id", filter=Q(status=s)) for s in ExecutionStatus.values},
        "d_n": Count("duration_ms", filter=queried),
        "d_min": Min("duration_ms", filter=queried),
        "d_avg": Avg("duration_ms", filter=queried),
        "d_max": Max("duration_ms", filter=queried),
        "lag_n": Count("id", filter=scheduled),
        "ok_at": Max("scheduled_for", filter=Q(status__in=SUCCESS)),
        "fail_at": Max("scheduled_for", filter=Q(status__in=FAILURE)),
        "in_n": Count("id", filter=firing_in),
        "in_sum": _sum(at, firing_in),
        "in_first": Min("scheduled_for", filter=firing_in),
        "out_n": Count("id", filter=firing_out),
        "out_sum": _sum(at, firing_out),
        "out_first": Min("scheduled_for", filter=firing_out),
        "firing_rows": Count("id", filter=Q(state_after=State.FIRING)),
    }
    if connection.vendor == "postgresql":
        figures["d_p95"] = Percentile("duration_ms", fraction=P95, filter=queried & Q(duration_ms__isnull=False))
        # Over the interval itself: no per-row conversion to seconds.
        lag = ExpressionWrapper(F("started_at") - F("scheduled_for"), output_field=DurationField())
        figures["lag_p95"] = Percentile(lag, fraction=P95, filter=scheduled, output_field=DurationField())
    return figures


def _sum(expression, condition):
    return Sum(expression, filter=condition, output_field=FloatField())


def _percentile(rows, expression, count: int) -> float | None:
    """percentile_cont(P95) by reading the two rows around its position in order (SQLite)."""
    if not count:
        return None
    position = P95 * (count - 1)
    low = math.floor(position)
    values = list(rows.annotate(v=expression).order_by("v").values_list("v", flat=True)[low:low + 2])
    if len(values) == 1 or position == low:
        return values[0]
    return values[0] + (values[1] - values[0]) * (position - low)


def _stats(executions, w: Window, alert_name: str | None, now: datetime) -> Stats:
    rows = _scope(executions, w)
    got = rows.aggregate(**_aggregates(w))
    stats = Stats(alert=alert_name, start=w.start, end=w.end)
    stats.counts = {s: got[f"n_{s}"] for s in STATUSES}
    stats.running = got[f"n_{ExecutionStatus.RUNNING}"]
    stats.runs = sum(stats.counts.values())
    if stats.runs:
        stats.success_rate = _ratio(sum(stats.counts[s] for s in SUCCESS), stats.runs)
        stats.error_rate = _ratio(sum(stats.counts[s] for s in FAILURE), stats.runs)
    if "d_p95" in got:
        d_p95, lag_p95 = got["d_p95"], got["lag_p95"]
    else:
        d_p95 = _percentile(rows.filter(status__in=QUERIED, duration_ms__isnull=False), F("duration_ms"), got["d_n"])
        lag_p95 = _percentile(rows.filter(trigger=Trigger.SCHEDULE).exclude(status=ExecutionStatus.RUNNING),
                              _lag(), got["lag_n"])
    if isinstance(lag_p95, timedelta):  # a zero lag is a falsy timedelta: test the type, not the truth
        lag_p95 = lag_p95.total_seconds()
    stats.duration_min_ms, stats.duration_max_ms = _ms(got["d_min"]), _ms(got["d_max"])
    stats.duration_avg_ms, stats.duration_p95_ms = _ms(got["d_avg"]), _ms(d_p95)
    stats.fire_lag_p95_ms = None if lag_p95 is None else round(lag_p95 * 1000, 1)
    stats.last_success, stats.last_failure = _last_runs(rows, got["ok_at"], got["fail_at"])
    stats.firing_seconds = _firing_seconds(got, w, now)
    return stats


def _ratio(part: int, whole: int) -> float:
    return round(part / whole, 6)


def _ms(value) -> float | None:
    return None if value is None else round(value, 3)


def _last_runs(rows, ok_at, fail_at) -> tuple[LastRun | None, LastRun | None]:
    moments = [m for m in (ok_at, fail_at) if m is not None]
    if not moments:
        return None, None
    found = (rows.filter(scheduled_for__in=moments, status__in=SUCCESS + FAILURE)
             .order_by("-scheduled_for", "-id").values("id", "scheduled_for", "status", "error", "alert__name"))
    last = {}
    for row in found:
        kind = "ok" if row["status"] in SUCCESS else "fail"
        wanted = ok_at if kind == "ok" else fail_at
        if row["scheduled_for"] == wanted and kind not in last:
            last[kind] = LastRun(at=row["scheduled_for"], status=row["status"], execution_id=row["id"],
                                 alert=row["alert__name"], error=row["error"] if kind == "fail" else "")
    return last.get("ok"), last.get("fail")


def _firing_seconds(got: dict, w: Window, now: datetime) -> float:
    """Σ(end of each firing) - Σ(its start), a firing open at the window's start starting there and
    one still open at its end ending there (or now). Transitions alternate in and out per alert."""
    until = min(w.end, now)
    ins, outs = got["in_n"], got["out_n"]
    if not ins and not outs:
        # No change in the window: firing all along if the runs in it say so.
        return round(max(0.0, (until - w.start).total_seconds()), 3) if got["firing_rows"] else 0.0
    total = (got["out_sum"] or 0.0) - (got["in_sum"] or 0.0)
    open_at_start = outs > ins or (outs == ins and got["out_first"] < got["in_first"])
    open_at_end = ins > outs or (outs == ins and open_at_start)
    if open_at_end:
        total += (until - w.start).total_seconds()
    return round(min(max(0.0, total), max(0.0, (until - w.start).total_seconds())), 3)


def alert_stats(alert, w: Window, now: datetime | None = None) -> Stats:
    """The figures of one alert over the window."""
    return _stats(Execution.objects.filter(alert=alert), w, alert.name, now or timezone.now())


def overall_stats(w: Window, now: datetime | None = None) -> Stats:
    """The figures of every alert together over the window; time firing is summed over alerts
    (alert-seconds: two alerts firing for an hour each is two hours)."""
    now = now or timezone.now()
    stats = _stats(Execution.objects.all(), w, None, now)
    stats.firing_seconds = _overall_firing(w, now)
    return stats


def _overall_firing(w: Window, now: datetime) -> float:
    # Grouped by alert: transitions alternate within one alert's history, not across alerts.
    aggregates = {k: v for k, v in _aggregates(w).items()
                  if k in ("in_n", "in_sum", "in_first", "out_n", "out_sum", "out_first", "firing_rows")}
    grouped = _scope(Execution.objects.all(), w).values("alert_id").annotate(**aggregates).order_by()
    return round(sum(_firing_seconds(g, w, now) for g in grouped), 3)


# --- the words every face shows (the admin block and `sentinel stats` print these lines)


def percent(rate: float | None) -> str:
    return "-" if rate is None else f"{rate * 100:.1f}%"


def millis(ms: float | None) -> str:
    """'14 ms', '1.5 s', '2 min': rounded for reading; the API gives the exact figure."""
    if ms is None:
        return "-"
    if ms < 1000:
        return f"{ms:.0f} ms"
    if ms < 120_000:
        return f"{ms / 1000:.1f} s"
    return format_duration(round(ms / 1000)) or "0s"


def last_run_text(last: LastRun | None, overall: bool = False) -> str:
    if last is None:
        return "none in the window"
    who = f"{last.alert} " if overall else ""
    text = f"{who}{last.at:%Y-%m-%d %H:%M:%S} UTC {last.status} (execution {last.execution_id})"
    return f"{text}: {last.error}" if last.error else text


def lines(stats: Stats) -> list[tuple[str, str]]:
    """(label, text) for each figure, in the order the admin and the CLI show them."""
    counts = ", ".join(f"{status} {count}" for status, count in stats.counts.items())
    running = f"; {stats.running} running" if stats.running else ""
    return [
        ("runs", f"{stats.runs} ({counts}){running}"),
        ("success rate", percent(stats.success_rate)),
        ("error rate", percent(stats.error_rate)),
        ("duration", f"min {millis(stats.duration_min_ms)}, avg {millis(stats.duration_avg_ms)}, "
                     f"p95 {millis(stats.duration_p95_ms)}, max {millis(stats.duration_max_ms)}"),
        ("fire lag p95", millis(stats.fire_lag_p95_ms)),
        ("last success", last_run_text(stats.last_success, stats.alert is None)),
        ("last failure", last_run_text(stats.last_failure, stats.alert is None)),
        ("time firing", format_duration(round(stats.firing_seconds)) if stats.firing_seconds >= 0.5 else "0s"),
    ]
