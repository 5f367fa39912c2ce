"""When alerts run: a cron expression (or an interval) in a timezone.

Alerts with the same (cron, timezone) share one Schedule, so beat holds one
entry per distinct timing, however many alerts there are. FiredTick records
each tick once (duplicate beats are absorbed, missed ticks are shown), and
BeatLease lets exactly one of several beat processes send.
"""

from datetime import datetime, timedelta

from django.core.exceptions import ValidationError
from django.db import models
from django.utils import timezone

from . import cron as cron_math


def validate_timezone(value: str) -> None:
    cron_math.zone(value)


def validate_cron(value: str) -> None:
    cron_math.validate_cron(value)


class ScheduleManager(models.Manager):
    def for_timing(self, cron: str = "", interval_seconds: int | None = None, timezone: str = "UTC") -> "Schedule":
        """The one Schedule for this timing, created if needed; validates first."""
        schedule = Schedule(cron=cron or "", interval_seconds=interval_seconds or None, timezone=timezone or "UTC")
        schedule.full_clean(validate_unique=False, validate_constraints=False)
        found, _ = self.get_or_create(
            cron=schedule.cron, interval_seconds=schedule.interval_seconds, timezone=schedule.timezone
        )
        return found


class Schedule(models.Model):
    cron = models.CharField(max_length=200, blank=True, validators=[validate_cron])
    interval_seconds = models.PositiveIntegerField(null=True, blank=True)
    timezone = models.CharField(max_length=64, default="UTC", validators=[validate_timezone])
    created_at = models.DateTimeField(auto_now_add=True)

    objects = ScheduleManager()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["cron", "interval_seconds", "timezone"], name="schedule_unique_timing"),
        ]

    def __str__(self) -> str:
        if self.interval_seconds:
            return f"every {self.interval_seconds}s"
        return f"{self.cron} ({self.timezone})"

    def clean(self) -> None:
        if bool(self.cron) == bool(self.interval_seconds):
            raise ValidationError("Give either a cron expression or an interval, not both.")
        if self.interval_seconds is not None and self.interval_seconds < cron_math.MIN_INTERVAL_SECONDS:
            raise ValidationError({"interval_seconds": "An interval must be at least 10 seconds."})

    def ticks(self, after: datetime, limit: int | None = None, until: datetime | None = None) -> list[datetime]:
        """Ticks strictly after `after`, in UTC, from the arithmetic beat's fan-out uses."""
        if self.interval_seconds:
            return cron_math.interval_ticks(self.interval_seconds, after, limit, until)
        return cron_math.cron_ticks(self.cron, self.timezone, after, limit, until)

    def latest_tick(self, now: datetime) -> datetime:
        return cron_math.latest_tick(self.cron, self.interval_seconds, self.timezone, now)

    def upcoming(self, n: int = 5, after: datetime | None = None) -> list[tuple[datetime, datetime]]:
        """The next n ticks as (local time in the schedule's zone, UTC)."""
        tz = cron_math.zone(self.timezone)
        return [(t.astimezone(tz), t) for t in self.ticks(after or timezone.now(), limit=n)]

    def period(self) -> timedelta:
        """The time between the next two ticks; a day for a cron that fires less than twice from now."""
        ticks = self.ticks(timezone.now(), limit=2)
        return ticks[1] - ticks[0] if len(ticks) == 2 else timedelta(days=1)


class FiredTick(models.Model):
    """A tick of a schedule that was fanned out, recorded once; `missed` lists the ticks
    before it that never fired (beat or broker down), coalesced into this one."""

    schedule = models.ForeignKey(Schedule, on_delete=models.CASCADE, related_name="fired_ticks")
    tick = models.DateTimeField()
    fired_at = models.DateTimeField(default=timezone.now)
    alerts = models.PositiveIntegerField(default=0, help_text="Alerts enqueued for this tick.")
    missed_count = models.PositiveIntegerField(default=0)
    missed_first = models.DateTimeField(null=True, blank=True)
    missed_last = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["schedule", "tick"], name="firedtick_once")]
        indexes = [models.Index(fields=["schedule", "-tick"], name="firedtick_latest")]
        ordering = ["-tick"]

    def __str__(self) -> str:
        gap = f", {self.missed_count} missed before" if self.missed_count else ""
        return f"{self.schedule_id}@{self.tick.isoformat()}{gap}"

    @property
    def lag_seconds(self) -> float:
        return (self.fired_at - self.tick).total_seconds()


class BeatLease(models.Model):
    """Which beat process may send. The holder renews it; a standby takes it when it expires."""

    name = models.CharField(max_length=50, unique=True, default="beat")
    holder = models.CharField(max_length=200, blank=True)
    expires_at = models.DateTimeField(null=True, blank=True)
    renewed_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"{self.name}: {self.holder or 'nobody'} until {self.expires_at}"
