"""fire_schedule: one fan-out per tick of a schedule.

Beat only says "this schedule is due"; the tick itself comes from the same
arithmetic as the preview. The FiredTick insert is the claim: a second beat's
duplicate, or a redelivered message, finds the row and does nothing.

Here, not in schedules/: the fan-out is where a tick meets the alerts, and the
clock (schedules/) knows nothing of alerts.

The alerts of a datasource with a spread (Datasource.spread_seconds, alerts/spread.py) go out
with a countdown to their offset in the window after the tick; the tick they carry is the
exact tick all the same.
"""

import logging
from datetime import datetime
from collections import defaultdict
from datetime import timedelta
from itertools import groupby

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from schedules.models import FiredTick, Schedule

from . import dispatch, spread
from .models import Alert

log = logging.getLogger("sentinel.schedules")

# How many missed ticks a gap record counts exactly; beyond this it says "at least".
GAP_COUNT_CAP = 10_000


def fire_schedule(schedule_id: int, now: datetime | None = None) -> FiredTick | None:
    """Record the tick due at `now` once and enqueue run_alerts for the schedule's enabled alerts, in batches."""
    now = now or timezone.now()
    schedule = Schedule.objects.filter(pk=schedule_id).first()
    if schedule is None:
        log.warning("schedule %s no longer exists; firing ignored", schedule_id)
        return None
    tick = schedule.latest_tick(now)
    previous = FiredTick.objects.filter(schedule=schedule).order_by("-tick").first()
    if previous is not None and previous.tick >= tick:
        return None  # this tick (or a later one) was fanned out already
    missed = []
    if previous is not None:
        missed = schedule.ticks(previous.tick, limit=GAP_COUNT_CAP + 1, until=tick)[:-1]
    alerts = list(
        Alert.objects.filter(schedule=schedule, enabled=True).order_by("datasource_id", "pk")
        .values_list("pk", "datasource_id", "datasource__spread_seconds")
    )
    gap = spread.gap_after(schedule, tick) if any(s for *_, s in alerts) else None
    try:
        with transaction.atomic():
            fired = FiredTick.objects.create(
                schedule=schedule, tick=tick, fired_at=now, alerts=len(alerts), missed_count=len(missed),
                missed_first=missed[0] if missed else None, missed_last=missed[-1] if missed else None,
            )
            for offset, group in timed_batches(alerts, gap).items():  # sent once the FiredTick is committed
                due = (tick + timedelta(seconds=offset) - now).total_seconds()
                dispatch.run_alerts(group, tick, countdown=due if due > 0 else None)
    except IntegrityError:
        return None
    if missed:
        log.warning("schedule=%s tick=%s gap: %d tick(s) from %s to %s never fired; running once now",
                    schedule.pk, tick.isoformat(), len(missed), missed[0].isoformat(), missed[-1].isoformat())
    log.info("schedule=%s tick=%s lag=%.2fs alerts=%d", schedule.pk, tick.isoformat(), fired.lag_seconds, len(alerts))
    return fired


def batches(alerts: list[tuple[int, int]]) -> list[list[int]]:
    """Alert ids in runs of at most SENTINEL_RUN_BATCH_SIZE, each of one datasource: a slow
    datasource then holds up only its own alerts."""
    size = settings.SENTINEL_RUN_BATCH_SIZE
    out = []
    for _, group in groupby(alerts, key=lambda a: a[1]):
        ids = [pk for pk, _ in group]
        out += [ids[i:i + size] for i in range(0, len(ids), size)]
    return out



def timed_batches(alerts: list[tuple[int, int, int]], gap: timedelta | None) -> dict[int, list[list[int]]]:
    """(alert id, datasource id, its spread) ordered by datasource -> the batches to send at each
    offset (seconds after the tick): all at 0 without a spread; with one, each alert at its own
    offset in the window (alerts/spread.py), batched with the alerts of its datasource and offset."""
    by_offset: dict[int, list[tuple[int, int]]] = defaultdict(list)
    for pk, datasource_id, spread_seconds in alerts:
        offset = spread.offset_seconds(pk, spread.window_seconds(spread_seconds, gap))
        by_offset[offset].append((pk, datasource_id))  # keeps the datasource order batches() needs
    return {offset: batches(group) for offset, group in sorted(by_offset.items())}
