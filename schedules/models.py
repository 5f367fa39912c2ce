"""When alerts run: a cron expression (or an interval) in a timezone.

Alerts with the same (cron, timezone) share one Schedule, so beat holds one
entry per distinct timing, however many alerts there are.
"""

import zoneinfo

from croniter import croniter
from django.core.exceptions import ValidationError
from django.db import models


def validate_timezone(value: str) -> None:
    try:
        zoneinfo.ZoneInfo(value)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        raise ValidationError(f"Unknown timezone {value!r}: use an IANA name such as Europe/Berlin.") from None


def validate_cron(value: str) -> None:
    if not croniter.is_valid(value) or len(value.split()) not in (1, 5):
        raise ValidationError(
            f"Invalid cron expression {value!r}: use 5 fields (minute hour day month weekday) "
            "or @hourly, @daily, @weekly, @monthly."
        )


class Schedule(models.Model):
    cron = models.CharField(max_length=200, blank=True, validators=[validate_cron])
    interval_seconds = models.PositiveIntegerField(null=True, blank=True)
    timezone = models.CharField(max_length=64, default="UTC", validators=[validate_timezone])
    created_at = models.DateTimeField(auto_now_add=True)

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
        if self.interval_seconds is not None and self.interval_seconds < 10:
            raise ValidationError({"interval_seconds": "An interval must be at least 10 seconds."})

    def period(self):
        """The time between two consecutive ticks from now (cron periods may vary; this is the next one)."""
        from datetime import timedelta

        if self.interval_seconds:
            return timedelta(seconds=self.interval_seconds)
        from datetime import datetime

        start = datetime.now(zoneinfo.ZoneInfo(self.timezone))
        it = croniter(self.cron, start)
        first = it.get_next(datetime)
        return it.get_next(datetime) - first
