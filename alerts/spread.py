"""Where in the window after a tick each alert of a spread datasource starts.

A datasource with `spread_seconds` has its alerts start across that many seconds after each
tick instead of all in the tick's first second (the thundering herd of issue #18). Each alert's
offset comes from a hash of its id, so it starts at the same offset every tick: its runs stay
one period apart, and its history reads as regularly as an unspread one. The window is at most
half the schedule's period, so a spread tick is done before the next tick starts.

The fan-out (alerts/fanout.py) sends each batch with a countdown to its offset; the runner
(alerts/runner.py) counts an alert's grace from its offset, not from the tick, so a spread
never makes a run MISSED. `scheduled_for` stays the exact tick, and fire lag is measured from it.
"""

from datetime import datetime, timedelta

from schedules.models import Schedule

# Knuth's multiplicative hash: consecutive ids (bulk-created alerts) land far apart in the window.
_GOLDEN = 2654435761
_MASK = 2**32 - 1


def gap_after(schedule: Schedule, tick: datetime) -> timedelta | None:
    """The time from `tick` to the schedule's next tick: fixed for a (schedule, tick), so the
    fan-out and every worker agree on a tick's window, whenever each computes it."""
    following = schedule.ticks(tick, limit=1)
    return following[0] - tick if following else None


def window_seconds(spread_seconds: int, gap: timedelta | None) -> int:
    """The spread actually used: the datasource's, at most half the gap to the next tick (whole seconds)."""
    if not spread_seconds or gap is None:
        return 0
    return max(0, min(int(spread_seconds), int(gap.total_seconds() // 2)))


def offset_seconds(alert_id: int, window: int) -> int:
    """The alert's whole-second offset in [0, window): the same every tick for the same window."""
    if window <= 0:
        return 0
    return ((alert_id * _GOLDEN) & _MASK) * window >> 32


def slot_start(alert_id: int, tick: datetime, spread_seconds: int, gap: timedelta | None) -> datetime:
    """When the alert's run of `tick` is due: the tick plus its offset in the window."""
    return tick + timedelta(seconds=offset_seconds(alert_id, window_seconds(spread_seconds, gap)))
