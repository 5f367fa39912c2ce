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
from django.db.models import F, Window
from django.db.models.functions import RowNumber
from django.utils import timezone
from django.utils.functional import cached_property
from django.utils.html import format_html, format_html_join

from .. import stats
from ..models import Execution, ExecutionStatus

SPARK_POINTS = 20
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


def history_chart(executions: list, width: int = 720, height: int = 180) -> str:
    """Value and threshold over time for an alert's recent executions (oldest first), as inline SVG."""
    rows = [(e.scheduled_for, numeric(e.actual_value), numeric(e.threshold)) for e in executions]
    rows = [r for r in rows if r[1] is not None or r[2] is not None]
    if len(rows) < 2:
        return format_html('<p class="sn-muted">{}</p>', "Not enough numeric values yet to draw a chart.")
    pad_left, pad_bottom, pad_top = 56, 22, 10
    values = [v for _, a, t in rows for v in (a, t) if v is not None]
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
    return format_html(
        '<svg class="sn-chart" viewBox="0 0 {} {}" width="100%" role="img" aria-label="value and threshold">'
        '<rect x="{}" y="{}" width="{}" height="{}" class="sn-plot"/>{}'
        '<polyline class="sn-threshold" points="{}"/><polyline class="sn-value" points="{}"/>{}</svg>'
        '<p class="sn-legend"><span class="sn-key-value"></span> value <span class="sn-key-threshold"></span> threshold</p>',
        width, height, pad_left, pad_top, width - pad_left - 8, height - pad_top - pad_bottom, labels,
        threshold, path(1), dots,
    )


def recent_values(alert_ids: list[int], per_alert: int = SPARK_POINTS) -> dict[int, list]:
    """alert id -> its latest values, oldest first: one query for a whole page of alerts.

    On PostgreSQL a LATERAL join reads at most `per_alert` index entries per alert,
    however long each history is; elsewhere a window function does the same job."""
    if not alert_ids:
        return {}
    found: dict[int, list] = {i: [] for i in alert_ids}
    statuses = [ExecutionStatus.OK, ExecutionStatus.ALERT]
    if connection.vendor == "postgresql":
        table = Execution._meta.db_table
        sql = (
            f"SELECT a.id, e.actual_value FROM unnest(%s::bigint[]) AS a(id) "
            f"CROSS JOIN LATERAL (SELECT actual_value, scheduled_for FROM {table} "
            f"WHERE alert_id = a.id AND status = ANY(%s) ORDER BY scheduled_for DESC LIMIT %s) e "
            f"ORDER BY a.id, e.scheduled_for"
        )
        with connection.cursor() as cursor:
            cursor.execute(sql, [list(alert_ids), [str(s) for s in statuses], per_alert])
            rows = cursor.fetchall()
        for alert_id, value in rows:
            found[alert_id].append(json.loads(value) if isinstance(value, str) else value)
        return found
    ranked = (
        Execution.objects.filter(alert_id__in=alert_ids, status__in=statuses)
        .annotate(rank=Window(RowNumber(), partition_by=[F("alert_id")], order_by=F("scheduled_for").desc()))
        .filter(rank__lte=per_alert)
        .order_by("alert_id", "scheduled_for")
        .values_list("alert_id", "actual_value")
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
