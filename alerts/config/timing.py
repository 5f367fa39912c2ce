"""The calls config and the API make into schedules/, in one place."""


def parse_schedule_text(text: str) -> tuple[str, int | None]:
    """Cron, macro, preset or interval -> (cron, interval_seconds); ValidationError otherwise."""
    from schedules.cron import parse_schedule_text as parse

    return parse(text)


def schedule_for(cron: str, interval_seconds: int | None, timezone: str):
    from schedules.models import Schedule

    return Schedule.objects.for_timing(cron=cron, interval_seconds=interval_seconds, timezone=timezone)


def upcoming(schedule, count: int) -> list[tuple]:
    """The next `count` runs as (local, utc) datetimes: the arithmetic beat uses."""
    return list(schedule.upcoming(count))
