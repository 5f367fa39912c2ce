"""Job statistics over a window, per alert and overall: what SQL Sentinel's
"Enhanced Scheduler" reported per job, computed from the Execution rows and, for
the whole hours of the window that are rolled up, from the hourly rollups.

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
- p95 is percentile_cont's (linear interpolation), on every database, when the
  window holds no rolled-up hour; otherwise it is read from the log-spaced
  histograms (alerts/histograms.py) of the hours and of the raw edges: within
  half a bucket of percentile_cont's, at most 4.53 % of the value;
- last success / last failure (ERROR or TIMEOUT) are the latest in the window;
- time firing comes from the state transitions each execution records
  (state_before -> state_after, the alert's worst instance state), timed at the
  tick, clipped to the window and to now.

Where the rollups come in (alerts/rollups.py): the whole hours inside the window
below RollupProgress.rolled_until are read from ExecutionRollup rows (one a
hour, however many runs), and the rest (the window's partial first and last
hours, and the hours not rolled up yet) from the raw rows. Every figure but the
p95 adds up exactly across the two (counts, sums, minima, maxima, the latest
run, the transitions), so it is the same with and without rollups; averages are
sum / n in both, equal up to float rounding.

The overall figures read a third tier for the whole rolled-up hours: OverallRollup, one row an hour
for every alert together, added up from that hour's ExecutionRollup rows by the same pass, so a
year is 8,760 rows at any alert count. The hours it does not hold yet (rolled up before it existed,
or made stale by a deleted alert) are read from the per-alert rows, so the figures are the same
either way. Time firing adds up per alert, not across alerts: as each alert's changes alternate
in and out of FIRING, the sum over alerts is what adds up (the changes' count and times, in
OverallRollup) plus how many alerts were firing as the window starts, read from each alert's
first hour in it with a FIRING run (_overall_firing_from_tiers).

One aggregate query over the raw rows and one over the rollups, one for each
histogram's raw part and one for the hourly histograms, and one lookup each for
the last success and failure rows. Without rolled-up hours: one aggregate query
(plus, on SQLite, two small index-range queries for the percentiles) and the
lookup."""

import math
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta

from django.db import connection, transaction
from django.db.models import (
    Aggregate, Count, DurationField, ExpressionWrapper, F, FloatField, Func, Max, Min, OuterRef, Q, Subquery, Sum,
    Value,
)
from django.utils import timezone

from . import histograms
from .durations import DurationError, format_duration, parse_duration
from .models import (
    Alert, Execution, ExecutionRollup, ExecutionStatus, OverallRollup, RollupProgress, State, Trigger,
)

DEFAULT_WINDOW = timedelta(hours=24)
SUCCESS = (ExecutionStatus.OK, ExecutionStatus.ALERT, ExecutionStatus.NO_DATA)
FAILURE = (ExecutionStatus.ERROR, ExecutionStatus.TIMEOUT)
QUERIED = SUCCESS + FAILURE
STATUSES = [s for s in ExecutionStatus.values if s != ExecutionStatus.RUNNING]
P95 = 0.95
HOUR = timedelta(hours=1)
QUERIED_Q = Q(status__in=QUERIED)
SCHEDULED_Q = Q(trigger=Trigger.SCHEDULE) & ~Q(status=ExecutionStatus.RUNNING)  # fire lag's runs

# How each figure adds up across parts of a window (raw rows, rollups, hours).
COUNTS = [f"n_{s}" for s in ExecutionStatus.values] + ["d_n", "lag_n", "in_n", "out_n", "firing_rows"]
SUMS = ["d_sum", "in_sum", "out_sum"]
MINIMA = ["d_min", "lag_min", "in_first", "out_first"]
MAXIMA = ["d_max", "lag_max", "ok_at", "fail_at"]
FIRING = ["in_n", "in_sum", "in_first", "out_n", "out_sum", "out_first", "firing_rows"]
PER_ALERT_ONLY = ["in_first", "out_first", "firing_rows"]  # not in OverallRollup: they do not add up across alerts
FIRED_HOURS = Q(firing_runs__gt=0) | Q(firing_out_n__gt=0)  # word for word the partial index's (rollup_firing_hours)
# figure -> the ExecutionRollup field that holds it for an hour
ROLLUP_FIELDS = {
    **{f"n_{s}": f"runs_{s.lower()}" for s in ExecutionStatus.values},
    "d_n": "duration_n", "d_sum": "duration_sum", "d_min": "duration_min", "d_max": "duration_max",
    "lag_n": "lag_n", "lag_min": "lag_min", "lag_max": "lag_max",
    "ok_at": "last_success_at", "fail_at": "last_failure_at",
    "in_n": "firing_in_n", "in_sum": "firing_in_sum", "in_first": "firing_in_first",
    "out_n": "firing_out_n", "out_sum": "firing_out_sum", "out_first": "firing_out_first",
    "firing_rows": "firing_runs",
}


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


def lag_ms():
    return _lag() * Value(1000.0)


def _scope(executions, w: Window):
    return executions.filter(scheduled_for__gte=w.start, scheduled_for__lt=w.end)


def aggregates(origin: datetime) -> dict:
    """The figures of a set of executions, as aggregates (the rollups group them by alert and
    hour). Transition times are summed as seconds after `origin`: small numbers keep sums exact."""
    firing_in = Q(state_after=State.FIRING) & ~Q(state_before=State.FIRING) & ~Q(state_before="")
    firing_out = Q(state_before=State.FIRING) & ~Q(state_after=State.FIRING) & ~Q(state_after="")
    at = Epoch("scheduled_for") - Value(origin.timestamp())
    queried, scheduled = QUERIED_Q, SCHEDULED_Q
    return {
        **{f"n_{s}": Count("id", filter=Q(status=s)) for s in ExecutionStatus.values},
        "d_n": Count("duration_ms", filter=queried),
        "d_sum": _sum(F("duration_ms"), queried),
        "d_min": Min("duration_ms", filter=queried),
        "d_max": Max("duration_ms", filter=queried),
        "lag_n": Count("id", filter=scheduled),
        "lag_min": Min(lag_ms(), filter=scheduled),
        "lag_max": Max(lag_ms(), filter=scheduled),
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


def _exact_percentiles() -> dict:
    if connection.vendor != "postgresql":
        return {}
    # Over the interval itself: no per-row conversion to seconds.
    lag = ExpressionWrapper(F("started_at") - F("scheduled_for"), output_field=DurationField())
    return {"d_p95": Percentile("duration_ms", fraction=P95, filter=QUERIED_Q & Q(duration_ms__isnull=False)),
            "lag_p95": Percentile(lag, fraction=P95, filter=SCHEDULED_Q, output_field=DurationField())}


def rollup_aggregates(origin: datetime, overall: bool = False) -> dict:
    """The same figures over ExecutionRollup rows, transition times again after `origin`; with
    `overall`, those that OverallRollup rows hold too."""
    shift = Epoch("hour") - Value(origin.timestamp())
    figures = {}
    for key, name in ROLLUP_FIELDS.items():
        if overall and key in PER_ALERT_ONLY:
            continue
        if key in ("in_sum", "out_sum"):
            count = ROLLUP_FIELDS[key.replace("sum", "n")]
            figures[key] = Sum(F(name) + F(count) * shift, output_field=FloatField())
        elif key in COUNTS or key in SUMS:
            figures[key] = Sum(name)
        elif key in MINIMA:
            figures[key] = Min(name)
        else:
            figures[key] = Max(name)
    return figures


def combine(*parts: dict | None) -> dict:
    """The figures of several disjoint sets of executions as one: counts and sums add up, minima
    and maxima (first transitions, latest runs) are the extreme of the parts."""
    parts = [p for p in parts if p]
    combined = {}
    for key in {k for p in parts for k in p}:
        values = [p[key] for p in parts if p.get(key) is not None]
        if key in COUNTS:
            combined[key] = sum(values)
        elif key in SUMS:
            combined[key] = sum(values) if values else None
        elif key in MINIMA:
            combined[key] = min(values, default=None)
        elif key in MAXIMA:
            combined[key] = max(values, default=None)
        else:
            combined[key] = values[0] if values else None
    return combined


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


def rolled_hours(w: Window, rolled_until: datetime | None = None) -> tuple[datetime, datetime] | None:
    """The whole hours inside the window that are rolled up, as [first, end), or None."""
    if rolled_until is None:
        rolled_until = RollupProgress.objects.values_list("rolled_until", flat=True).first()
    if rolled_until is None:
        return None
    first = floor_hour(w.start)
    first = first if first == w.start else first + HOUR
    end = min(floor_hour(w.end), rolled_until)
    return (first, end) if first < end else None


def floor_hour(moment: datetime) -> datetime:
    return moment.replace(minute=0, second=0, microsecond=0)


@dataclass
class Tiers:
    """Where a window's figures are read: the raw rows of its edges, the per-alert rollups of
    its whole rolled-up hours and, for the overall figures, the overall rows of the hours that
    tier holds (then `rolled` keeps only the hours it does not)."""

    rows: object
    rolled: object = None
    overall: object = None
    firing: object = None  # overall: every rolled-up hour's per-alert rows, for time firing
    hours: tuple | None = None


def _tiers(executions, rollups, w: Window, overall: bool) -> Tiers:
    rolled_until, overall_from = RollupProgress.objects.values_list("rolled_until", "overall_from").first() or (
        None, None)
    hours = rolled_hours(w, rolled_until) if rolled_until else None
    if hours is None:
        return Tiers(_scope(executions, w))
    rows = executions.filter(Q(scheduled_for__gte=w.start, scheduled_for__lt=hours[0])
                             | Q(scheduled_for__gte=hours[1], scheduled_for__lt=w.end))
    rolled = rollups.filter(hour__gte=hours[0], hour__lt=hours[1])
    if not overall:
        return Tiers(rows, rolled)
    held_from = max(hours[0], overall_from or hours[0])
    held = OverallRollup.objects.filter(hour__gte=held_from, hour__lt=hours[1])
    stale = list(held.filter(stale=True).values_list("hour", flat=True))
    return Tiers(rows, rolled.filter(Q(hour__lt=held_from) | Q(hour__in=stale)), held.filter(stale=False), rolled,
                 hours)


def _stats(executions, rollups, w: Window, alert_name: str | None, now: datetime, per_alert_firing=False) -> Stats:
    with transaction.atomic():
        if connection.vendor == "postgresql":
            # PostgreSQL compiles a query it expects to be costly (the raw edges of 2,000 alerts'
            # last hour: 150,000 rows): 150 to 180 ms of compiling to save a few (bench/history_scale.py).
            with connection.cursor() as cursor:
                cursor.execute("SET LOCAL jit = off")
        return _figures(executions, rollups, w, alert_name, now, per_alert_firing)


def _figures(executions, rollups, w: Window, alert_name: str | None, now: datetime, per_alert_firing) -> Stats:
    tiers = _tiers(executions, rollups, w, per_alert_firing)
    rows, rolled = tiers.rows, tiers.rolled
    if rolled is None:
        got = rows.aggregate(**aggregates(w.start), **_exact_percentiles())
    elif tiers.overall is None:
        got = combine(rows.aggregate(**aggregates(w.start)), rolled.aggregate(**rollup_aggregates(w.start)))
    else:
        figures = {k: v for k, v in aggregates(w.start).items() if k not in PER_ALERT_ONLY}
        got = combine(rows.aggregate(**figures), rolled.aggregate(**rollup_aggregates(w.start, overall=True)),
                      tiers.overall.aggregate(**rollup_aggregates(w.start, overall=True)))
    stats = Stats(alert=alert_name, start=w.start, end=w.end)
    stats.counts = {s: got[f"n_{s}"] for s in STATUSES}
    stats.running = got[f"n_{ExecutionStatus.RUNNING}"]
    stats.runs = sum(stats.counts.values())
    if stats.runs:
        stats.success_rate = _ratio(sum(stats.counts[s] for s in SUCCESS), stats.runs)
        stats.error_rate = _ratio(sum(stats.counts[s] for s in FAILURE), stats.runs)
    d_p95, lag_p95 = _percentiles(rows, [r for r in (rolled, tiers.overall) if r is not None], got)
    stats.duration_min_ms, stats.duration_max_ms = _ms(got["d_min"]), _ms(got["d_max"])
    stats.duration_avg_ms = _ms(got["d_sum"] / got["d_n"]) if got["d_n"] else None
    stats.duration_p95_ms = _ms(d_p95)
    stats.fire_lag_p95_ms = None if lag_p95 is None else round(lag_p95, 1)
    stats.last_success, stats.last_failure = _last_runs(rows, rolled, tiers.overall, got["ok_at"], got["fail_at"])
    if per_alert_firing:
        stats.firing_seconds = (_overall_firing(rows, w, now) if tiers.overall is None
                                else _overall_firing_from_tiers(tiers, got, w, now))
    else:
        stats.firing_seconds = _firing_seconds(got, w, now)
    return stats


def _percentiles(rows, rolled: list, got: dict) -> tuple[float | None, float | None]:
    """(duration p95, fire lag p95) in ms: exact without rollups, from the histograms with them
    (`rolled`: the rollup tiers read, per-alert and overall rows alike)."""
    durations, lags = rows.filter(QUERIED_Q, duration_ms__isnull=False), rows.filter(SCHEDULED_Q)
    if rolled:
        hourly = [h for tier in rolled for h in _hourly_histograms(tier)]
        d = _histogram(durations, F("duration_ms"), [h[0] for h in hourly], got["d_n"])
        lag = _histogram(lags, lag_ms(), [h[1] for h in hourly], got["lag_n"])
        return (histograms.percentile(d, P95, got["d_min"], got["d_max"]) if got["d_n"] else None,
                histograms.percentile(lag, P95, got["lag_min"], got["lag_max"]) if got["lag_n"] else None)
    if "d_p95" in got:
        d_p95, lag_p95 = got["d_p95"], got["lag_p95"]
    else:
        d_p95 = _percentile(durations, F("duration_ms"), got["d_n"])
        lag_p95 = _percentile(lags, _lag(), got["lag_n"])
    if isinstance(lag_p95, timedelta):  # a zero lag is a falsy timedelta: test the type, not the truth
        lag_p95 = lag_p95.total_seconds()
    return d_p95, None if lag_p95 is None else lag_p95 * 1000


def bucket_counts(rows, expression, by: tuple[str, ...] = ()):
    """(*by, bucket, count) of the rows' values of `expression` (ms), grouped in SQL."""
    return (rows.annotate(bucket=histograms.Bucket(expression)).values(*by, "bucket")
            .annotate(n=Count("id")).order_by().values_list(*by, "bucket", "n"))


def _hourly_histograms(rolled) -> list[tuple]:
    """(duration, lag) histograms of the hours, in one fetch: a year is 8,760 rows, and the ORM's
    iteration in chunks of 100 took 80 ms of the 365-day figures."""
    sql, params = rolled.values_list("duration_histogram", "lag_histogram").query.sql_with_params()
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchall()


def _histogram(rows, expression, hourly: list, total: int) -> list[int]:
    counts = histograms.add(hourly, total)
    for bucket, n in bucket_counts(rows, expression):
        counts[bucket] += n
    return counts


def _ratio(part: int, whole: int) -> float:
    return round(part / whole, 6)


def _ms(value) -> float | None:
    return None if value is None else round(value, 3)


def _last_runs(rows, rolled, overall, ok_at, fail_at) -> tuple[LastRun | None, LastRun | None]:
    """The latest success and failure, from the raw rows or the hours' rollups (per-alert or
    overall): the latest tick, and of runs of several alerts on that tick, the last recorded."""
    moments = [m for m in (ok_at, fail_at) if m is not None]
    if not moments:
        return None, None
    wanted = {"ok": ok_at, "fail": fail_at}
    found: dict[str, tuple] = {}

    def offer(kind, at, execution_id, status, alert, error=""):
        if at == wanted[kind] and (kind not in found or execution_id > found[kind][0]):
            found[kind] = (execution_id, LastRun(at=at, status=status, execution_id=execution_id, alert=alert,
                                                 error=error if kind == "fail" else ""))

    for row in rows.filter(scheduled_for__in=moments, status__in=QUERIED).values(
            "id", "scheduled_for", "status", "error", "alert__name"):
        offer("ok" if row["status"] in SUCCESS else "fail", row["scheduled_for"], row["id"], row["status"],
              row["alert__name"], row["error"])
    # Only the rows of the hours those ticks are in: the (alert, hour) and hour indexes, not every hour.
    latest = (Q(last_success_at=ok_at) if ok_at else Q(pk__in=[])) | (
        Q(last_failure_at=fail_at) if fail_at else Q(pk__in=[]))
    tiers = [(rolled, F("alert__name"), F("alert__name")),
             (overall, F("last_success_alert__name"), F("last_failure_alert__name"))]
    for tier, ok_alert, fail_alert in tiers:
        if tier is None:
            continue
        for row in tier.filter(latest, hour__in={floor_hour(m) for m in moments}).values(
                "last_success_at", "last_success_id", "last_success_status", "last_failure_at", "last_failure_id",
                "last_failure_status", "last_failure_error", ok_alert=ok_alert, fail_alert=fail_alert):
            if row["last_success_at"] is not None:
                offer("ok", row["last_success_at"], row["last_success_id"], row["last_success_status"],
                      row["ok_alert"])
            if row["last_failure_at"] is not None:
                offer("fail", row["last_failure_at"], row["last_failure_id"], row["last_failure_status"],
                      row["fail_alert"], row["last_failure_error"])
    return (found["ok"][1] if "ok" in found else None), (found["fail"][1] if "fail" in found else None)


def _firing_seconds(got: dict, w: Window, now: datetime) -> float:
    """Σ(end of each firing) - Σ(its start), a firing open at the window's start starting there and
    one still open at its end ending there (or now). Transitions alternate in and out per alert."""
    until = min(w.end, now)
    ins, outs = got["in_n"], got["out_n"]
    if not ins and not outs:
        # No change in the window: firing all along if the runs in it say so.
        return round(max(0.0, (until - w.start).total_seconds()), 3) if got["firing_rows"] else 0.0
    total = (got["out_sum"] or 0.0) - (got["in_sum"] or 0.0)
    open_at_end = ins > outs or (outs == ins and _open_at_start(got))
    if open_at_end:
        total += (until - w.start).total_seconds()
    return round(min(max(0.0, total), max(0.0, (until - w.start).total_seconds())), 3)


def alert_stats(alert, w: Window, now: datetime | None = None) -> Stats:
    """The figures of one alert over the window."""
    return _stats(Execution.objects.filter(alert=alert), ExecutionRollup.objects.filter(alert=alert), w,
                  alert.name, now or timezone.now())


def overall_stats(w: Window, now: datetime | None = None) -> Stats:
    """The figures of every alert together over the window; time firing is summed over alerts
    (alert-seconds: two alerts firing for an hour each is two hours)."""
    return _stats(Execution.objects.all(), ExecutionRollup.objects.all(), w, None, now or timezone.now(),
                  per_alert_firing=True)


def _overall_firing(rows, w: Window, now: datetime) -> float:
    """Time firing summed over alerts, from raw rows: each alert's figure, added up. Grouped by
    alert: transitions alternate within one alert's history, not across alerts. Only the runs that
    were FIRING before or after: the others add nothing to any firing figure."""
    raw = {k: v for k, v in aggregates(w.start).items() if k in FIRING}
    fired = rows.filter(Q(state_after=State.FIRING) | Q(state_before=State.FIRING))
    return round(sum(_firing_seconds(g, w, now) for g in fired.values("alert_id").annotate(**raw).order_by()), 3)


def _overall_firing_from_tiers(tiers: Tiers, got: dict, w: Window, now: datetime) -> float:
    """The same sum, without reading every alert's hours. Per alert, as transitions alternate, its
    time firing is Σ(ends) - Σ(starts) + L x (firing at the window's end), and firing at the end =
    firing at the start + starts - ends (L: the window up to now). Summed over alerts, all but
    "firing at the start" add up across alerts (OverallRollup holds them); that count is read from
    each alert's first part of the window with a FIRING run: its first raw edge, else its first
    such hour (one probe of rollup_firing_hours an alert), else its last raw edge. 17.5 million
    hours of 2,000 alerts took 2 s grouped by alert; this reads 2,000 rows."""
    until = min(w.end, now)
    span = max(0.0, (until - w.start).total_seconds())
    ends_minus_starts = (got["out_sum"] or 0.0) - (got["in_sum"] or 0.0)
    total = ends_minus_starts + span * (got["in_n"] - got["out_n"] + _firing_at_start(tiers, w))
    return round(max(0.0, total), 3)


def _firing_at_start(tiers: Tiers, w: Window) -> int:
    """How many alerts were firing as the window starts, as its runs say (see _firing_seconds)."""
    figures = {k: v for k, v in aggregates(w.start).items() if k in FIRING}
    fired = tiers.rows.filter(Q(state_after=State.FIRING) | Q(state_before=State.FIRING))
    first_edge, last_edge = fired.filter(scheduled_for__lt=tiers.hours[0]), fired.filter(
        scheduled_for__gte=tiers.hours[1])
    first = {g["alert_id"]: g for g in first_edge.values("alert_id").annotate(**figures).order_by()}
    first_hour = (tiers.firing.filter(FIRED_HOURS, alert=OuterRef("pk")).order_by("hour").values("pk")[:1])
    hour_ids = Alert.objects.annotate(first=Subquery(first_hour)).exclude(first=None).values("first")
    # Tuples, not .values() dicts: building 2,000 dicts was 80 ms of a year's 300.
    for alert_id, *hour in ExecutionRollup.objects.filter(pk__in=hour_ids).values_list(
            "alert_id", *(ROLLUP_FIELDS[k] for k in FIRING)):
        first.setdefault(alert_id, dict(zip(FIRING, hour)))
    for g in last_edge.values("alert_id").annotate(**figures).order_by():
        first.setdefault(g["alert_id"], g)
    return sum(1 for g in first.values() if _open_at_start(g))


def _open_at_start(g: dict) -> bool:
    ins, outs = g["in_n"], g["out_n"]
    if not ins and not outs:
        return bool(g["firing_rows"])
    return outs > ins or (outs == ins and g["out_first"] < g["in_first"])


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
