"""The two calls config makes into schedules/, in one place.

schedules.cron.parse_schedule_text and Schedule.objects.for_timing belong to the
scheduling work; until they exist this module falls back to plain cron and macros
(and get_or_create), so config files keep working either way.
"""

from django.core.exceptions import ValidationError


def parse_schedule_text(text: str) -> tuple[str, int | None]:
    try:
        from schedules.cron import parse_schedule_text as parse
    except ImportError:
        parse = _cron_only
    return parse(text)


def schedule_for(cron: str, interval_seconds: int | None, timezone: str):
    from schedules.models import Schedule

    manager = Schedule.objects
    if hasattr(manager, "for_timing"):
        return manager.for_timing(cron=cron, interval_seconds=interval_seconds, timezone=timezone)
    schedule, _ = manager.get_or_create(cron=cron or "", interval_seconds=interval_seconds, timezone=timezone)
    return schedule


def _cron_only(text: str) -> tuple[str, None]:
    from schedules.models import validate_cron

    text = " ".join(text.split())
    validate_cron(text)
    if not text:
        raise ValidationError("Empty schedule.")
    return text, None


def upcoming(schedule, count: int) -> list[tuple]:
    """The next `count` runs as (local, utc) datetimes; Schedule.upcoming when it exists."""
    if hasattr(schedule, "upcoming"):
        return list(schedule.upcoming(count))
    import zoneinfo
    from datetime import datetime, timedelta
    from datetime import timezone as dt_timezone

    from croniter import croniter

    tz = zoneinfo.ZoneInfo(schedule.timezone)
    now = datetime.now(tz)
    if schedule.interval_seconds:
        step = timedelta(seconds=schedule.interval_seconds)
        times = [now + step * (i + 1) for i in range(count)]
    else:
        it = croniter(schedule.cron, now)
        times = [it.get_next(datetime) for _ in range(count)]
    return [(t, t.astimezone(dt_timezone.utc)) for t in times]
