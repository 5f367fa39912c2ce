"""How the admin shows things: state badges, ages, sparklines, charts, and the
per-page data a list needs, fetched in one query per page rather than per row."""

import json
from datetime import datetime, timedelta
from datetime import timezone as dt_timezone
from numbers import Number

from django.conf import settings
from django.contrib import admin
from django.core.paginator import Paginator
from django.db import connection
from django.db.models import F, Q, Window
from django.db.models.functions import RowNumber
from django.utils import timezone
from django.utils.functional import cached_property
from django.utils.html import format_html, format_html_join

from .. import retention, stats
from ..models import Execution, ExecutionRollup, ExecutionStatus, RollupProgress

SPARK_POINTS = 20
HALF_HOUR = timedelta(minutes=30)  # where an hour's rollup is drawn
# Shown instead of a state when it says more about what happens next.
DISABLED, SILENCED = "DISABLED", "SILENCED"


def display_state(alert, now=None) -> str:
    if not alert.enabled:
        return DISABLED
    if alert.is_silenced(now):
        return SILENCED
    return alert.state


def badge(text: str, title: str = "") -> str:
    css = "sn-badge sn-" + (text or "none").lower().replace("_", "-")
    return format_html('<span class="{}" title="{}">{}</span>', css, title, (text or "-").replace("_", " "))


def ago(moment: datetime | None, now: datetime | None = None) -> str:
    """'3 min ago', 'in 2 h': short enough for a list column."""
    if moment is None:
        return "never"
    now = now or timezone.now()
    seconds = (now - moment).total_seconds()
    words = _span(abs(seconds))
    return f"{words} ago" if seconds >= 0 else f"in {words}"


def _span(seconds: float) -> str:
    if seconds < 60:
        return f"{seconds:.0f} s"
    if seconds < 3600:
        return f"{seconds / 60:.0f} min"
    if seconds < 86400 * 2:
        return f"{seconds / 3600:.1f} h".replace(".0 h", " h")
    return f"{seconds / 86400:.0f} d"


def since_html(moment: datetime | None, now=None) -> str:
    if moment is None:
        return ""
    return format_html('<span class="sn-since" title="{}">for {}</span>',
                       when(moment), ago(moment, now).removesuffix(" ago"))


def short_value(value, limit: int = 40) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        text = f"{value:.6g}"
    else:
        text = str(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def numeric(value) -> float | None:
    if isinstance(value, bool) or not isinstance(value, Number):
        try:
            return float(value) if isinstance(value, str) else None
        except ValueError:
            return None
    return float(value)


def sparkline(values: list, threshold=None, width: int = 90, height: int = 22) -> str:
    """An inline SVG polyline of the values (oldest first), with the threshold dashed."""
    points = [v for v in (numeric(v) for v in values) if v is not None]
    if len(points) < 2:
        return format_html('<span class="sn-muted">{}</span>', "-" if not points else short_value(points[0]))
    limit = numeric(threshold)
    low, high = min(points + ([limit] if limit is not None else [])), max(points + ([limit] if limit is not None else []))
    span = (high - low) or 1.0

    def y(v):
        return height - 2 - (v - low) / span * (height - 4)

    step = width / (len(points) - 1)
    line = " ".join(f"{i * step:.1f},{y(v):.1f}" for i, v in enumerate(points))
    rule = ""
    if limit is not None:
        rule = format_html('<line x1="0" x2="{}" y1="{}" y2="{}" class="sn-spark-threshold"/>',
                           width, f"{y(limit):.1f}", f"{y(limit):.1f}")
    return format_html(
        '<svg class="sn-spark" width="{}" height="{}" viewBox="0 0 {} {}" role="img" aria-label="last {} values">'
        '{}<polyline points="{}"/></svg>',
        width, height, width, height, len(points), rule, line,
    )


def chart_history(alert, latest: list, points: int, now=None) -> tuple[list, list]:
    """What the alert page's chart draws: (runs, hours), `points` in all, each oldest first. `latest`
    is the alert's latest `points` runs, newest first. Where they reach back past the raw window, whose plain OK runs
    retention deleted, the runs there (the kept ALERT and changed ones only) would draw a false
    picture: the hours before it are drawn from their rollups instead (value avg, min and max).
    A minutely alert's 200 runs are 3 hours, inside the window: no rollup is read."""
    rolled_until = RollupProgress.objects.values_list("rolled_until", flat=True).first()
    since = retention.raw_history_from(alert, now or timezone.now(), rolled_until)
    if since is None or not latest or (len(latest) == points and latest[-1].scheduled_for >= since):
        return list(reversed(latest)), []
    runs = [e for e in reversed(latest) if e.scheduled_for >= since]
    # The (alert, hour) unique index, newest first: at most `points` entries read.
    hours = list(ExecutionRollup.objects.filter(alert=alert, hour__lt=since, value_n__gt=0).order_by("-hour")
                 .values_list("hour", "value_sum", "value_n", "value_min", "value_max")[:points - len(runs)])
    return runs, [(hour + HALF_HOUR, total / n, low, high) for hour, total, n, low, high in reversed(hours)]


def history_chart(executions: list, hours: list = (), width: int = 720, height: int = 180) -> str:
    """Value and threshold over time for an alert's recent executions (oldest first), as inline SVG;
    before them `hours` (mid-hour, avg, min, max) from the rollups, each with its min-max range."""
    ranges = [(m, low, high) for m, _, low, high in hours]
    rows = [(m, avg, None) for m, avg, _, _ in hours]
    rows += [(e.scheduled_for, numeric(e.actual_value), numeric(e.threshold)) for e in executions]
    rows = [r for r in rows if r[1] is not None or r[2] is not None]
    if len(rows) < 2:
        return format_html('<p class="sn-muted">{}</p>', "Not enough numeric values yet to draw a chart.")
    pad_left, pad_bottom, pad_top = 56, 22, 10
    values = [v for _, a, t in rows for v in (a, t) if v is not None] + [v for _, lo, hi in ranges for v in (lo, hi)]
    low, high = min(values), max(values)
    span = (high - low) or 1.0
    low, high = low - span * 0.05, high + span * 0.05
    t0, t1 = rows[0][0], rows[-1][0]
    duration = (t1 - t0).total_seconds() or 1.0

    def x(moment):
        return pad_left + (moment - t0).total_seconds() / duration * (width - pad_left - 8)

    def y(v):
        return pad_top + (high - v) / (high - low) * (height - pad_top - pad_bottom)

    def path(index):
        pts = [(x(r[0]), y(r[index])) for r in rows if r[index] is not None]
        return " ".join(f"{a:.1f},{b:.1f}" for a, b in pts)

    dots = format_html_join(
        "", '<circle cx="{}" cy="{}" r="2.5"><title>{}: {}</title></circle>',
        ((f"{x(m):.1f}", f"{y(a):.1f}", m.strftime("%Y-%m-%d %H:%M"), short_value(a)) for m, a, _ in rows if a is not None),
    )
    labels = format_html(
        '<text x="{}" y="{}" class="sn-axis" text-anchor="end">{}</text>'
        '<text x="{}" y="{}" class="sn-axis" text-anchor="end">{}</text>'
        '<text x="{}" y="{}" class="sn-axis">{}</text>'
        '<text x="{}" y="{}" class="sn-axis" text-anchor="end">{}</text>',
        pad_left - 6, f"{y(high) + 4:.1f}", short_value(round(high, 3)), pad_left - 6, f"{y(low):.1f}",
        short_value(round(low, 3)),
        pad_left, height - 4, t0.strftime("%m-%d %H:%M"), width - 8, height - 4, t1.strftime("%m-%d %H:%M UTC"),
    )
    threshold = path(2)
    spans = format_html_join(
        "", '<line class="sn-range" x1="{}" x2="{}" y1="{}" y2="{}"><title>{} UTC hour: min {}, max {}</title></line>',
        ((f"{x(m):.1f}", f"{x(m):.1f}", f"{y(lo):.1f}", f"{y(hi):.1f}", (m - HALF_HOUR).strftime("%Y-%m-%d %H:00"),
          short_value(lo), short_value(hi)) for m, lo, hi in ranges),
    )
    return format_html(
        '<svg class="sn-chart" viewBox="0 0 {} {}" width="100%" role="img" aria-label="value and threshold">'
        '<rect x="{}" y="{}" width="{}" height="{}" class="sn-plot"/>{}{}'
        '<polyline class="sn-threshold" points="{}"/><polyline class="sn-value" points="{}"/>{}</svg>'
        '<p class="sn-legend"><span class="sn-key-value"></span> value <span class="sn-key-threshold"></span> threshold'
        '{}</p>',
        width, height, pad_left, pad_top, width - pad_left - 8, height - pad_top - pad_bottom, labels, spans,
        threshold, path(1), dots,
        format_html(" (before {}: hourly average, with the hour's min to max)",
                    executions[0].scheduled_for.strftime("%m-%d %H:%M") if executions else "now") if ranges else "",
    )


def recent_values(alerts: list, per_alert: int = SPARK_POINTS) -> dict[int, list]:
    """alert id -> its latest values, oldest first: one query for a whole page of alerts, and a
    second for those with fewer values in the raw window, whose older hours' plain OK runs are gone:
    there each hour's last value from its rollup (one a run at the schedules that get there: every
    8.4 hours or rarer, for 20 points in 7 days).

    On PostgreSQL a LATERAL join reads at most `per_alert` index entries per alert,
    however long each history is; elsewhere a window function does the same job."""
    if not alerts:
        return {}
    now = timezone.now()
    rolled_until = RollupProgress.objects.values_list("rolled_until", flat=True).first()
    since = {a.pk: retention.raw_history_from(a, now, rolled_until) for a in alerts}
    found = _latest_values(Execution, "scheduled_for", "actual_value",
                           Q(status__in=[ExecutionStatus.OK, ExecutionStatus.ALERT]), since, per_alert, "gte")
    short = {i: at for i, at in since.items() if at is not None and len(found[i]) < per_alert}
    if short:
        hours = _latest_values(ExecutionRollup, "hour", "value_last", Q(value_n__gt=0, value_last__isnull=False),
                               short, per_alert, "lt")
        for alert_id, values in hours.items():
            found[alert_id] = values[-(per_alert - len(found[alert_id])):] + found[alert_id]
    return found


def _latest_values(model, at: str, column: str, where: Q, bound: dict, per_alert: int, side: str) -> dict[int, list]:
    """alert id -> the `column` of its latest `per_alert` rows of `model` (oldest first) whose `at`
    is on `side` ("gte" or "lt") of the alert's bound (None: no bound)."""
    found: dict[int, list] = {i: [] for i in bound}
    rows = model.objects.filter(where)
    if connection.vendor == "postgresql":
        table = model._meta.db_table
        where_sql, params = rows.query.get_compiler(connection=connection).compile(rows.query.where)
        edge = ">=" if side == "gte" else "<"
        sql = (
            f"SELECT a.id, e.{column} FROM unnest(%s::bigint[], %s::timestamptz[]) AS a(id, bound) "
            f"CROSS JOIN LATERAL (SELECT {column}, {at} FROM {table} "
            f"WHERE alert_id = a.id AND (a.bound IS NULL OR {at} {edge} a.bound) AND {where_sql} "
            f"ORDER BY {at} DESC LIMIT %s) e ORDER BY a.id, e.{at}"
        )
        with connection.cursor() as cursor:
            cursor.execute(sql, [list(bound), list(bound.values()), *params, per_alert])
            for alert_id, value in cursor.fetchall():
                found[alert_id].append(json.loads(value) if isinstance(value, str) else value)
        return found
    by_bound: dict = {}
    for alert_id, moment in bound.items():
        by_bound.setdefault(moment, []).append(alert_id)
    scope = Q(pk__in=[])
    for moment, ids in by_bound.items():
        scope |= Q(alert_id__in=ids) & (Q() if moment is None else Q(**{f"{at}__{side}": moment}))
    ranked = (
        rows.filter(scope)
        .annotate(rank=Window(RowNumber(), partition_by=[F("alert_id")], order_by=F(at).desc()))
        .filter(rank__lte=per_alert)
        .order_by("alert_id", at)
        .values_list("alert_id", column)
    )
    for alert_id, value in ranked:
        found[alert_id].append(value)
    return found


def next_runs(schedule, count: int = 5, after: datetime | None = None) -> list[tuple[datetime, datetime]]:
    """[(local, utc)] for the schedule's next ticks: the arithmetic beat's fan-out uses."""
    if schedule is None:
        return []
    return list(schedule.upcoming(count, after=after))


def run_labels(runs: list[tuple[datetime, datetime]]) -> list[tuple[str, str]]:
    """[('Mon 2026-12-07 09:00 CET', '2026-12-07 08:00 UTC')], as the schedule page and the preview say it.

    Formatted here, not with the template's date filter: that filter converts to the
    site's zone (UTC) first, which printed the UTC time beside the local zone's name."""
    return [(f"{local:%a %Y-%m-%d %H:%M %Z}", f"{utc:%Y-%m-%d %H:%M} UTC") for local, utc in runs]


def when(moment: datetime | None) -> str:
    """'2026-12-01 10:05:00 UTC': how the admin writes every stored time, with seconds and zone."""
    if moment is None:
        return "-"
    return f"{moment.astimezone(dt_timezone.utc):%Y-%m-%d %H:%M:%S} UTC"


def time_column(field: str, description: str | None = None):
    """A ModelAdmin (or inline) column that shows a datetime field with when(); ordered by the field."""

    @admin.display(description=description or field.replace("_", " "), ordering=field)
    def column(self, obj):
        return when(getattr(obj, field))

    return column


def execution_lag(execution) -> str:
    if execution.started_at is None or execution.scheduled_for is None:
        return "-"
    lag = (execution.started_at - execution.scheduled_for).total_seconds()
    return f"{lag:.1f} s" if abs(lag) < 120 else _span(abs(lag))


def duration(ms) -> str:
    """Milliseconds, rounded: '14 ms', '12.3 s' (never 12.345678)."""
    if ms is None:
        return "-"
    return f"{ms:.0f} ms" if ms < 10_000 else f"{ms / 1000:.1f} s"


class CappedCountPaginator(Paginator):
    """Counts at most CAP rows (a LIMITed subquery), so a million-row table pages
    without COUNT(*) over all of it. Past the cap the list says 'more than'."""

    CAP = 10_000

    @cached_property
    def count(self) -> int:
        counted = self.object_list[: self.CAP + 1].count()
        self.capped = counted > self.CAP
        return min(counted, self.CAP)

    capped = False


def preview_table(columns: list, rows: list, limit: int | None = None) -> str:
    """The result rows as an HTML table (cells escaped)."""
    if not columns:
        return format_html('<p class="sn-muted">{}</p>', "No result set.")
    rows = rows[: limit or settings.SENTINEL_PREVIEW_ROWS]
    head = format_html_join("", "<th>{}</th>", ((c,) for c in columns))
    body = format_html_join(
        "", "<tr>{}</tr>",
        ((format_html_join("", "<td>{}</td>", ((("NULL" if v is None else v),) for v in row)),) for row in rows),
    )
    if not rows:
        body = format_html('<tr><td colspan="{}" class="sn-muted">no rows</td></tr>', len(columns))
    return format_html('<table class="sn-result"><thead><tr>{}</tr></thead><tbody>{}</tbody></table>', head, body)


def seconds_between(a: datetime | None, b: datetime | None) -> float | None:
    if a is None or b is None:
        return None
    return (b - a) / timedelta(seconds=1)


STATS_WINDOWS = (("last 24 h", timedelta(hours=24)), ("last 7 d", timedelta(days=7)))


def stats_table(alert, now=None) -> str:
    """The alert's statistics over the last 24 hours and 7 days, in the words `sentinel stats` prints."""
    now = now or timezone.now()
    columns = [(label, stats.lines(stats.alert_stats(alert, stats.window(span, now=now), now=now)))
               for label, span in STATS_WINDOWS]
    head = format_html_join("", "<th>{}</th>", ((label,) for label, _ in columns))
    body = format_html_join(
        "", "<tr><th scope=\"row\">{}</th>{}</tr>",
        ((label, format_html_join("", "<td>{}</td>", ((figures[i][1],) for _, figures in columns)))
         for i, (label, _) in enumerate(columns[0][1])),
    )
    return format_html('<table class="sn-table sn-stats"><thead><tr><th></th>{}</tr></thead><tbody>{}</tbody></table>',
                       head, body)
