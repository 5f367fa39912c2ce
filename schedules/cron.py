"""Tick arithmetic, in one place: the preview, the fan-out and the gap check all use it.

Cron is standard cron (croniter): 0 and 7 are Sunday, 1-5 is Monday to Friday,
day-of-month and day-of-week combine with OR. Expressions are read in the
schedule's local wall time and resolved to UTC the way classic cron does on
DST days:

* a fixed local time runs exactly once per local calendar day: a time that does
  not exist (spring forward) runs at the first valid instant after it, a time
  that occurs twice (fall back) runs at its first occurrence;
* a job whose hour field is `*` (or `*/N`) follows elapsed time: it runs every
  hour that really passes, 23 times on the spring day and 25 on the autumn day.
"""

import re
import zoneinfo
from datetime import datetime, timedelta, timezone

from croniter import CroniterBadDateError, croniter
from django.core.exceptions import ValidationError

UTC = timezone.utc

MACROS = {
    "@hourly": "0 * * * *",
    "@daily": "0 0 * * *",
    "@midnight": "0 0 * * *",
    "@weekly": "0 0 * * 0",
    "@monthly": "0 0 1 * *",
    "@yearly": "0 0 1 1 *",
    "@annually": "0 0 1 1 *",
}
# Schedules with a name of their own, listed by GET /api/presets. Each name is accepted wherever a
# schedule is (files, API, admin) and reads back as the cron shown; bare hourly, daily, weekly,
# monthly and yearly mean what the @ macros mean. All are read in the alert's time zone.
PRESETS = (
    ("every minute", "* * * * *", "At the start of every minute."),
    ("every 5 minutes", "*/5 * * * *", "At :00, :05, :10 ... of every hour."),
    ("every 10 minutes", "*/10 * * * *", "At :00, :10, :20 ... of every hour."),
    ("every 15 minutes", "*/15 * * * *", "At :00, :15, :30 and :45 of every hour."),
    ("every 30 minutes", "*/30 * * * *", "At :00 and :30 of every hour."),
    ("hourly", "0 * * * *", "At the start of every hour (the same as @hourly)."),
    ("daily", "0 0 * * *", "Every day at midnight (the same as @daily and @midnight)."),
    ("weekly", "0 0 * * 0", "Every Sunday at midnight (the same as @weekly)."),
    ("monthly", "0 0 1 * *", "On the 1st of every month at midnight (the same as @monthly)."),
    ("yearly", "0 0 1 1 *", "On 1 January at midnight (the same as @yearly and @annually)."),
)
DAYS = {
    "sunday": 0, "monday": 1, "tuesday": 2, "wednesday": 3, "thursday": 4, "friday": 5, "saturday": 6,
    "sun": 0, "mon": 1, "tue": 2, "wed": 3, "thu": 4, "fri": 5, "sat": 6,
}
MIN_INTERVAL_SECONDS = 10
# The largest shift of a wall clock at a DST change (2 h covers every zone in use).
DST_MARGIN = timedelta(hours=2)
_TIME = r"(?P<h>\d{1,2}):(?P<m>\d{2})"
_PRESETS = [
    (re.compile(r"^every minute$"), lambda g: "* * * * *"),
    (re.compile(r"^every (?P<n>\d+) minutes?$"), lambda g: _every(g, "minutes", 59, "*/{n} * * * *")),
    (re.compile(r"^every hour$"), lambda g: "0 * * * *"),
    (re.compile(r"^every (?P<n>\d+) hours?$"), lambda g: _every(g, "hours", 23, "0 */{n} * * *")),
    (re.compile(r"^hourly at :(?P<m>\d{2})$"), lambda g: f"{_minute(g)} * * * *"),
    (re.compile(rf"^daily at {_TIME}$"), lambda g: f"{_minute(g)} {_hour(g)} * * *"),
    (re.compile(rf"^weekdays at {_TIME}$"), lambda g: f"{_minute(g)} {_hour(g)} * * 1-5"),
    (re.compile(rf"^weekly on (?P<d>[a-z]+) at {_TIME}$"), lambda g: f"{_minute(g)} {_hour(g)} * * {_day(g)}"),
    (re.compile(rf"^monthly on (?:day )?(?P<dom>\d{{1,2}}) at {_TIME}$"),
     lambda g: f"{_minute(g)} {_hour(g)} {_dom(g)} * *"),
]
_INTERVAL = re.compile(r"^every (?P<n>\d+) (?P<unit>seconds?|secs?|s)$")


def _every(g, unit, top, template):
    n = int(g["n"])
    if not 1 <= n <= top:
        raise ValidationError(f"Every {n} {unit}: use 1 to {top}.")
    return template.format(n=n)


def _minute(g):
    m = int(g["m"])
    if m > 59:
        raise ValidationError(f"Minute {m} is out of range (0-59).")
    return m


def _hour(g):
    h = int(g["h"])
    if h > 23:
        raise ValidationError(f"Hour {h} is out of range (0-23).")
    return h


def _day(g):
    try:
        return DAYS[g["d"]]
    except KeyError:
        raise ValidationError(f"Unknown day {g['d']!r}: use monday ... sunday.") from None


def _dom(g):
    d = int(g["dom"])
    if not 1 <= d <= 31:
        raise ValidationError(f"Day of month {d} is out of range (1-31).")
    return d


def parse_schedule_text(text: str) -> tuple[str, int | None]:
    """A cron expression, macro, preset or interval -> (cron text, interval seconds)."""
    raw = " ".join(str(text or "").split())
    # Cron has no underscores: every_5_minutes (the Autoloader's spelling) is every 5 minutes.
    lowered = raw.lower().replace("_", " ")
    if not raw:
        raise ValidationError("The schedule is empty: give a cron expression (e.g. '*/5 * * * *') or a preset.")
    if lowered in MACROS:
        return MACROS[lowered], None
    if "@" + lowered in MACROS:  # bare hourly, daily, weekly, monthly, yearly (midnight, annually)
        return MACROS["@" + lowered], None
    interval = _INTERVAL.match(lowered)
    if interval:
        seconds = int(interval["n"])
        if seconds < MIN_INTERVAL_SECONDS:
            raise ValidationError(f"An interval must be at least {MIN_INTERVAL_SECONDS} seconds (got {seconds}).")
        return "", seconds
    for pattern, build in _PRESETS:
        match = pattern.match(lowered)
        if match:
            return build(match.groupdict()), None
    validate_cron(raw)
    return raw, None


def validate_cron(expr: str) -> None:
    fields = expr.split()
    if len(fields) != 5:
        raise ValidationError(
            f"Invalid cron expression {expr!r}: it has {len(fields)} fields; use 5 (minute hour day month "
            "weekday), a macro (@hourly, @daily, @weekly, @monthly, or the bare word: hourly) or a preset "
            "such as 'daily at 09:00'."
        )
    if not croniter.is_valid(expr):
        names = ["minute", "hour", "day of month", "month", "day of week"]
        for i, name in enumerate(names):
            probe = ["*"] * 5
            probe[i] = fields[i]
            if not croniter.is_valid(" ".join(probe)):
                raise ValidationError(f"Invalid cron expression {expr!r}: the {name} field {fields[i]!r} is not valid.")
        raise ValidationError(f"Invalid cron expression {expr!r}.")
    if not fires(expr):
        raise ValidationError(f"The cron expression {expr!r} never fires: no such date exists "
                              "(check the day of month against the month).")


def fires(expr: str) -> bool:
    """Whether a valid cron expression has any tick at all (`0 0 31 2 *` has none).

    croniter looks ahead up to its max_years_between_matches, which covers a leap day."""
    try:
        croniter(expr, datetime(2000, 1, 1)).get_next(datetime)
    except CroniterBadDateError:
        return False
    return True


def zone(name: str) -> zoneinfo.ZoneInfo:
    try:
        return zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        raise ValidationError(f"Unknown timezone {name!r}: use an IANA name such as Europe/Berlin.") from None


def _elapsed_hours(cron: str) -> bool:
    return cron.split()[1].startswith("*")


def _resolve(naive: datetime, tz: zoneinfo.ZoneInfo, elapsed: bool) -> list[datetime]:
    """The UTC instants a local wall time stands for, by the DST rules above."""
    first = naive.replace(tzinfo=tz, fold=0)
    second = naive.replace(tzinfo=tz, fold=1)
    if first.utcoffset() == second.utcoffset():
        return [first.astimezone(UTC)]
    roundtrip = first.astimezone(UTC).astimezone(tz).replace(tzinfo=None)
    if roundtrip != naive:
        # Does not exist (spring forward): the first valid instant after it is the end of the gap.
        return [_gap_end(naive, tz)]
    # Occurs twice (fall back): fixed times run at the first, elapsed-time jobs at both.
    return [first.astimezone(UTC), second.astimezone(UTC)] if elapsed else [first.astimezone(UTC)]


def _gap_end(naive: datetime, tz: zoneinfo.ZoneInfo) -> datetime:
    # The instant the clocks jump to: the offset after the transition applied to the wall time's hour start.
    probe = naive.replace(tzinfo=tz, fold=0).astimezone(UTC)
    later = naive.replace(tzinfo=tz, fold=1).astimezone(UTC)
    start, end = min(probe, later), max(probe, later)
    while end - start > timedelta(seconds=1):
        mid = start + (end - start) / 2
        if mid.astimezone(tz).replace(tzinfo=None) < naive:
            start = mid
        else:
            end = mid
    return end.replace(microsecond=0)


def _steady(tz: zoneinfo.ZoneInfo, at: datetime) -> bool:
    """No UTC offset change within DST_MARGIN of `at`: wall time and UTC move together there."""
    return (at - DST_MARGIN).astimezone(tz).utcoffset() == (at + DST_MARGIN).astimezone(tz).utcoffset()


def cron_ticks(cron: str, tz_name: str, after: datetime, limit: int | None = None,
               until: datetime | None = None) -> list[datetime]:
    """The ticks strictly after `after` (and at or before `until`), in UTC, once each, DST days included."""
    tz = zone(tz_name)
    elapsed = _elapsed_hours(cron)
    # Near a DST change, start a little before in wall time, so a tick moved by DST is not skipped.
    local_start = (after.astimezone(tz) - (timedelta(0) if _steady(tz, after) else DST_MARGIN)).replace(tzinfo=None)
    it = croniter(cron, local_start)
    ticks: list[datetime] = []
    while True:
        try:
            naive = it.get_next(datetime)
        except CroniterBadDateError:
            # A cron that never fires, stored before save-time checks refused one: no ticks, not a crash.
            return ticks[:limit] if limit else [t for t in ticks if until is None or t <= until]
        ticks.extend(t for t in _resolve(naive, tz, elapsed) if t > after and t not in ticks)
        ticks.sort()
        bound = until if until is not None else (ticks[limit - 1] if limit and len(ticks) >= limit else None)
        # DST moves a tick by at most DST_MARGIN: past that no later wall time can land earlier.
        margin = timedelta(0) if bound is not None and _steady(tz, bound) else DST_MARGIN
        if bound is not None and naive.replace(tzinfo=tz).astimezone(UTC) > bound + margin:
            kept = [t for t in ticks if until is None or t <= until]
            return kept[:limit] if limit else kept


def interval_ticks(seconds: int, after: datetime, limit: int | None = None,
                   until: datetime | None = None) -> list[datetime]:
    """Interval ticks are multiples of the interval since the Unix epoch, so every process agrees."""
    start = int(after.timestamp()) // seconds * seconds + seconds
    ticks = []
    t = start
    while (limit is None or len(ticks) < limit) and (until is None or t <= until.timestamp()):
        ticks.append(datetime.fromtimestamp(t, UTC))
        t += seconds
    return ticks


def latest_tick(cron: str, interval_seconds: int | None, tz_name: str, now: datetime) -> datetime:
    """The nominal tick a firing at `now` stands for: the latest tick at or before it."""
    if interval_seconds:
        return datetime.fromtimestamp(int(now.timestamp()) // interval_seconds * interval_seconds, UTC)
    # Widen the look-back from two minutes: an every-minute schedule then costs a few cron
    # steps instead of a day's worth (1,440), and a yearly one about ten widenings.
    window = timedelta(minutes=2)
    while window <= timedelta(days=3200):
        ticks = cron_ticks(cron, tz_name, now - window, until=now)
        if ticks:
            return ticks[-1]
        window *= 4
    raise ValidationError(f"{cron!r} has no tick in the last four years.")
