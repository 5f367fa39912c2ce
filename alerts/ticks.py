"""The values a tick-bound query gets for one tick of its alert (docs/writing-alerts.md, Tick-bound queries).

- :tick is the tick (UTC); a manual run or a dry run is a tick of its own, "now".
- :window_end is the tick. :window_start is the tick of the alert's latest earlier run that queried
  (OK, ALERT, NO_DATA, ERROR or TIMEOUT). MISSED and SKIPPED runs did not query, so their span folds
  into the next run's window: consecutive runs cover time exactly once, beat's outages included.
  With no such run: the schedule's tick before this one, or, for an alert without a schedule,
  FIRST_WINDOW_UNSCHEDULED before it.
- :last_success is the tick of the latest earlier OK, ALERT or NO_DATA run, NULL if there is none.

Only executions before the tick count, so a rerun of a past tick binds what its original run did.
"""

from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

from django.core.exceptions import ValidationError

from . import tick_parameters
from .models import Execution, ExecutionStatus

QUERIED = (ExecutionStatus.OK, ExecutionStatus.ALERT, ExecutionStatus.NO_DATA, ExecutionStatus.ERROR,
           ExecutionStatus.TIMEOUT)
SUCCEEDED = (ExecutionStatus.OK, ExecutionStatus.ALERT, ExecutionStatus.NO_DATA)
# The first window of an alert that runs only when asked (no schedule): the day before.
FIRST_WINDOW_UNSCHEDULED = timedelta(days=1)
_JUST_BEFORE = timedelta(microseconds=1)


@dataclass(frozen=True)
class Binding:
    tick: datetime
    window_start: datetime
    window_end: datetime
    last_success: datetime | None

    def values(self) -> dict[str, datetime | None]:
        return {name: getattr(self, name) for name in tick_parameters.NAMES}

    def describe(self, note: str = "") -> str:
        """'bound :tick = 2026-12-01 10:05:00 UTC (now), :window_start = ...': what the run's faces print."""
        said = []
        for name, value in self.values().items():
            text = "NULL" if value is None else f"{value:%Y-%m-%d %H:%M:%S}" + (
                f".{value.microsecond:06d}" if value.microsecond else "") + " UTC"
            said.append(f":{name} = {text}" + (f" ({note})" if note and name == "tick" else ""))
        return "bound " + ", ".join(said)


def binding_for(alert, tick: datetime) -> Binding:
    """The tick parameters of `alert` at `tick`, from its executions before that tick."""
    earlier = Execution.objects.filter(alert_id=alert.pk, scheduled_for__lt=tick).order_by("-scheduled_for")
    if not alert.pk:  # an unsaved alert (the admin's test of a new one) has no history
        earlier = earlier.none()
    previous = earlier.filter(status__in=QUERIED).values_list("scheduled_for", flat=True).first()
    last_success = earlier.filter(status__in=SUCCEEDED).values_list("scheduled_for", flat=True).first()
    return Binding(tick, previous or _tick_before(alert, tick), tick, last_success)


def binding_if_used(alert, tick: datetime) -> Binding | None:
    """The binding when the alert's query uses a tick parameter; None (and no database read) otherwise."""
    return binding_for(alert, tick) if tick_parameters.used(alert.query or "") else None


def params_for(alert, tick: datetime) -> dict | None:
    """What run_query binds for `alert` at `tick` (None: the query runs as written)."""
    binding = binding_if_used(alert, tick)
    return binding.values() if binding else None


def _tick_before(alert, tick: datetime) -> datetime:
    """The schedule's latest tick strictly before `tick` (a manual run's 'now' included)."""
    schedule = alert.schedule
    if schedule is not None:
        try:
            return schedule.latest_tick(tick - _JUST_BEFORE)
        except ValidationError:  # a cron with no tick in four years
            pass
    return tick - FIRST_WINDOW_UNSCHEDULED


class BadTick(ValueError):
    """A tick asked for a rerun that cannot be one; the message says why."""


def past_tick(text: str, now: datetime) -> datetime:
    """The tick a rerun asks for, in UTC: ISO 8601 ('2026-12-01T10:05Z', '2026-12-01 10:05:00+01:00';
    without an offset, UTC), at or before `now`."""
    try:
        tick = datetime.fromisoformat(text.strip().replace(" ", "T", 1))
    except ValueError:
        raise BadTick(f"Cannot read the tick {text[:40]!r}: use ISO 8601, e.g. 2026-12-01T10:05Z (UTC).") from None
    tick = tick.replace(tzinfo=timezone.utc) if tick.tzinfo is None else tick.astimezone(timezone.utc)
    if tick > now:
        raise BadTick(f"The tick {tick:%Y-%m-%d %H:%M:%S} UTC has not come yet: a rerun is of a past tick "
                      "(to run the alert now, leave the tick out).")
    return tick
