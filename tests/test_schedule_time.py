"""Tick arithmetic: presets, validation messages, DST days, and preview == beat."""

import zoneinfo
from datetime import datetime, timedelta, timezone as tz

import pytest
from django.core.exceptions import ValidationError

from schedules import cron
from schedules.beat import SentinelTicks

ZONES = ["America/New_York", "Europe/London", "Australia/Sydney", "Asia/Kolkata", "Asia/Kathmandu"]


@pytest.mark.parametrize("text, expected", [
    ("*/5 * * * *", ("*/5 * * * *", None)),
    ("@hourly", ("0 * * * *", None)),
    ("@daily", ("0 0 * * *", None)),
    ("@weekly", ("0 0 * * 0", None)),
    ("@monthly", ("0 0 1 * *", None)),
    ("every 5 minutes", ("*/5 * * * *", None)),
    ("hourly at :15", ("15 * * * *", None)),
    ("daily at 09:00", ("0 9 * * *", None)),
    ("Weekdays at 18:30", ("30 18 * * 1-5", None)),
    ("weekly on monday at 09:15", ("15 9 * * 1", None)),
    ("monthly on 1 at 06:00", ("0 6 1 * *", None)),
    ("every 30 seconds", ("", 30)),
])
def test_presets_are_stored_as_cron_text(text, expected):
    assert cron.parse_schedule_text(text) == expected


@pytest.mark.parametrize("text, message", [
    ("61 * * * *", "the minute field '61' is not valid"),
    ("0 25 * * *", "the hour field '25' is not valid"),
    ("*/30 * * * * *", "it has 6 fields; use 5"),
    ("every 5 seconds", "at least 10 seconds"),
    ("daily at 25:00", "Hour 25 is out of range"),
    ("weekly on funday at 09:00", "Unknown day 'funday'"),
    ("", "The schedule is empty"),
])
def test_invalid_schedules_say_which_field_and_why(text, message):
    with pytest.raises(ValidationError) as err:
        cron.parse_schedule_text(text)
    assert message in " ".join(err.value.messages)


def test_unknown_timezone_is_a_clear_error():
    with pytest.raises(ValidationError, match="Unknown timezone 'Mars/Olympus'"):
        cron.zone("Mars/Olympus")


def test_standard_cron_weekdays_sunday_is_0_and_7_and_dom_dow_are_ored():
    after = datetime(2026, 11, 23, tzinfo=tz.utc)  # a Monday
    weekdays = cron.cron_ticks("0 9 * * 1-5", "UTC", after, limit=5)
    assert [t.strftime("%a") for t in weekdays] == ["Mon", "Tue", "Wed", "Thu", "Fri"]
    assert cron.cron_ticks("0 9 * * 7", "UTC", after, limit=1) == cron.cron_ticks("0 9 * * 0", "UTC", after, limit=1)
    ored = cron.cron_ticks("0 9 1 * 1", "UTC", after, limit=3)
    assert [t.date().isoformat() for t in ored] == ["2026-11-23", "2026-11-30", "2026-12-01"]


def local_day_ticks(expr, zone_name, day):
    z = zoneinfo.ZoneInfo(zone_name)
    start = datetime(*day, tzinfo=z).astimezone(tz.utc) - timedelta(seconds=1)
    end = (datetime(*day, tzinfo=z) + timedelta(days=1)).astimezone(tz.utc) - timedelta(seconds=1)
    return [t.astimezone(z) for t in cron.cron_ticks(expr, zone_name, start, until=end)]


@pytest.mark.parametrize("zone_name, spring, autumn", [
    ("America/New_York", (2026, 3, 8), (2026, 11, 1)),
    ("Europe/London", (2026, 3, 29), (2026, 10, 25)),
    ("Australia/Sydney", (2026, 10, 4), (2026, 4, 5)),
])
def test_fixed_local_time_runs_exactly_once_per_local_day_on_dst_days(zone_name, spring, autumn):
    for day in (spring, autumn):
        for expr in ("30 2 * * *", "30 1 * * *", "0 9 * * *"):
            ticks = local_day_ticks(expr, zone_name, day)
            assert len(ticks) == 1, (expr, zone_name, day, ticks)


def test_missing_time_runs_at_first_valid_instant_and_repeated_time_at_first_occurrence():
    spring = local_day_ticks("30 2 * * *", "America/New_York", (2026, 3, 8))
    autumn = local_day_ticks("30 1 * * *", "America/New_York", (2026, 11, 1))
    assert spring[0].strftime("%H:%M %z") == "03:00 -0400"
    assert autumn[0].strftime("%H:%M %z") == "01:30 -0400"


@pytest.mark.parametrize("zone_name, spring, autumn", [
    ("America/New_York", (2026, 3, 8), (2026, 11, 1)),
    ("Europe/London", (2026, 3, 29), (2026, 10, 25)),
])
def test_hourly_job_runs_every_elapsed_hour(zone_name, spring, autumn):
    assert len(local_day_ticks("0 * * * *", zone_name, spring)) == 23
    assert len(local_day_ticks("0 * * * *", zone_name, autumn)) == 25


@pytest.mark.parametrize("zone_name", ["Asia/Kolkata", "Asia/Kathmandu"])
def test_half_and_quarter_hour_zones(zone_name):
    ticks = local_day_ticks("0 9 * * *", zone_name, (2026, 6, 1))
    assert [t.strftime("%H:%M") for t in ticks] == ["09:00"]
    offset = {"Asia/Kolkata": "03:30", "Asia/Kathmandu": "03:15"}[zone_name]
    assert ticks[0].astimezone(tz.utc).strftime("%H:%M") == offset


def drive_beat(expr, zone_name, start, end):
    """Beat's own schedule object on a fake clock: when would it send?"""
    clock = [start]
    ticks = SentinelTicks(cron=expr, tz=zone_name, nowfun=lambda: clock[0])
    last, fires, now = start, [], start
    while now < end:
        clock[0] = now
        due, wait = ticks.is_due(last)
        if due:
            fires.append(now)
            last = now
        now += timedelta(seconds=max(1, min(wait, 6 * 3600)))
    return fires


@pytest.mark.parametrize("expr", ["30 2 * * *", "0 * * * 1-5", "15 9 1 * *", "0 0 * * 0"])
@pytest.mark.parametrize("zone_name", ZONES)
def test_beat_fires_exactly_the_previewed_ticks_over_a_year(expr, zone_name):
    start = datetime(2026, 1, 1, tzinfo=tz.utc)
    end = datetime(2027, 1, 1, tzinfo=tz.utc)
    fires = drive_beat(expr, zone_name, start, end)
    assert fires == cron.cron_ticks(expr, zone_name, start, until=end - timedelta(seconds=1))
    assert fires  # the schedule fired at all


def test_interval_ticks_are_aligned_so_every_process_agrees():
    after = datetime(2026, 11, 24, 9, 0, 7, tzinfo=tz.utc)
    assert cron.interval_ticks(30, after, limit=3) == [
        datetime(2026, 11, 24, 9, 0, 30, tzinfo=tz.utc),
        datetime(2026, 11, 24, 9, 1, 0, tzinfo=tz.utc),
        datetime(2026, 11, 24, 9, 1, 30, tzinfo=tz.utc),
    ]
    assert cron.latest_tick("", 30, "UTC", after) == datetime(2026, 11, 24, 9, 0, tzinfo=tz.utc)
