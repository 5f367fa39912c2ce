"""Beat's scheduler: django-celery-beat's DatabaseScheduler that sends only while it
holds the lease, and that times Sentinel's schedules with Sentinel's own tick
arithmetic, so what the preview says is what beat does (DST days included).

Celery's crontab disagrees with classic cron on DST days (it runs a 02:30 job at
03:30 on the spring day and skips the repeated hour of `0 * * * *` in autumn),
so the PeriodicTask keeps its CrontabSchedule for people to read, while the
entry beat evaluates is a SentinelTicks built from the same fields.
"""

import logging
import time
from datetime import datetime, timedelta, timezone

from celery import schedules as celery_schedules
from django.conf import settings
from django.db import DatabaseError, close_old_connections
from django_celery_beat.schedulers import DatabaseScheduler, ModelEntry

from . import cron as cron_math
from . import leader
from .sync import PREFIX

log = logging.getLogger("sentinel.beat")

NEVER = timedelta(days=3650)


class SentinelTicks(celery_schedules.BaseSchedule):
    """A celery schedule whose due times are exactly schedules.cron's ticks."""

    def __init__(self, cron: str = "", interval_seconds: int | None = None, tz: str = "UTC", nowfun=None, app=None):
        self.cron, self.interval_seconds, self.tz = cron, interval_seconds, tz
        super().__init__(nowfun=nowfun, app=app)

    def now(self) -> datetime:
        return (self.nowfun or (lambda: datetime.now(timezone.utc)))().astimezone(timezone.utc)

    def next_tick(self, after: datetime) -> datetime:
        if self.interval_seconds:
            return cron_math.interval_ticks(self.interval_seconds, after, limit=1)[0]
        ticks = cron_math.cron_ticks(self.cron, self.tz, after, limit=1)
        # A cron that never fires (0 0 31 2 *, stored before save refused it) is never due;
        # raising here would stop beat, and with it every other schedule.
        return ticks[0] if ticks else after + NEVER

    def remaining_estimate(self, last_run_at):
        return self.next_tick(last_run_at.astimezone(timezone.utc)) - self.now()

    def is_due(self, last_run_at):
        now = self.now()
        due_at = self.next_tick(last_run_at.astimezone(timezone.utc))
        if due_at <= now:
            return celery_schedules.schedstate(True, max(0.0, (self.next_tick(now) - now).total_seconds()))
        return celery_schedules.schedstate(False, (due_at - now).total_seconds())

    def __eq__(self, other):
        if isinstance(other, SentinelTicks):
            return (self.cron, self.interval_seconds, self.tz) == (other.cron, other.interval_seconds, other.tz)
        return NotImplemented

    def __repr__(self):
        return f"<SentinelTicks {self.cron or f'every {self.interval_seconds}s'} {self.tz}>"

    def __reduce__(self):
        return (self.__class__, (self.cron, self.interval_seconds, self.tz))


def ticks_for(model) -> SentinelTicks | None:
    """The SentinelTicks for a mirrored PeriodicTask, from its own crontab or interval row."""
    if model.crontab_id:
        c = model.crontab
        cron = f"{c.minute} {c.hour} {c.day_of_month} {c.month_of_year} {c.day_of_week}"
        return SentinelTicks(cron=cron, tz=str(c.timezone))
    if model.interval_id:
        return SentinelTicks(interval_seconds=model.interval.every * {"seconds": 1, "minutes": 60, "hours": 3600,
                                                                      "days": 86400}[model.interval.period])
    return None


class SentinelEntry(ModelEntry):
    def __init__(self, model, app=None):
        super().__init__(model, app=app)
        if model.name.startswith(PREFIX):
            ticks = ticks_for(model)
            if ticks is not None:
                self.schedule = ticks


class LeaderDatabaseScheduler(DatabaseScheduler):
    Entry = SentinelEntry

    def __init__(self, *args, **kwargs):
        self._holder = leader.holder_id()
        self._leading = False
        self._checked_at = 0.0
        super().__init__(*args, **kwargs)

    def _is_leader(self) -> bool:
        renew_every = settings.SENTINEL_BEAT_LEASE_SECONDS / 3
        if time.monotonic() - self._checked_at < renew_every:
            return self._leading
        close_old_connections()
        try:
            leading = leader.acquire_or_renew(self._holder)
        except DatabaseError as exc:
            log.warning("beat lease check failed (%s); standing by", exc)
            leading = False
        if leading != self._leading:
            log.warning("beat %s %s the lease", self._holder, "took" if leading else "lost")
        self._leading, self._checked_at = leading, time.monotonic()
        return leading

    def tick(self, *args, **kwargs):
        if not self._is_leader():
            return settings.SENTINEL_BEAT_LEASE_SECONDS / 3
        return min(super().tick(*args, **kwargs), settings.SENTINEL_BEAT_LEASE_SECONDS / 3)

    def close(self):
        try:
            if self._leading:
                leader.release(self._holder)
        except DatabaseError:
            pass
        super().close()
