"""The mirror: each Schedule with at least one enabled alert has exactly one
django-celery-beat PeriodicTask that runs `schedules.fire_schedule(schedule_id)`.

Which schedules have an enabled alert is the caller's to say (alerts/mirror.py):
the clock knows nothing of alerts.

A PeriodicTask is saved only when what beat needs really changed, because beat
reloads every entry on any PeriodicTask change.
"""

import json
import logging

from django.db import transaction
from django.utils import timezone
from django_celery_beat.models import CrontabSchedule, IntervalSchedule, PeriodicTask

from .models import Schedule

log = logging.getLogger("sentinel.schedules")

TASK = "schedules.fire_schedule"
PREFIX = "sentinel-schedule-"
# What each repair means, in the words of a drift report.
DRIFT = {"created": "missing", "updated": "different", "deleted": "orphaned"}


def task_name(schedule_id: int) -> str:
    return f"{PREFIX}{schedule_id}"


def beat_day_of_week(field: str) -> str:
    """Celery's crontab counts Sunday as 0 only; standard cron also allows 7."""
    parts = []
    for part in field.split(","):
        if part == "7":
            parts.append("0")
        elif part.endswith("-7") and "/" not in part:
            parts += [f"{part[:-2]}-6", "0"]
        else:
            parts.append(part)
    return ",".join(parts)


def _clock(schedule: Schedule) -> dict:
    if schedule.interval_seconds:
        interval, _ = IntervalSchedule.objects.get_or_create(every=schedule.interval_seconds,
                                                             period=IntervalSchedule.SECONDS)
        return {"interval": interval, "crontab": None}
    minute, hour, dom, month, dow = schedule.cron.split()
    crontab, _ = CrontabSchedule.objects.get_or_create(
        minute=minute, hour=hour, day_of_month=dom, month_of_year=month, day_of_week=beat_day_of_week(dow),
        timezone=schedule.timezone,
    )
    return {"interval": None, "crontab": crontab}


def sync_schedule(schedule_id: int, wanted: bool) -> str:
    """Bring one schedule's PeriodicTask in line: present when `wanted` (the schedule has an enabled
    alert) and the schedule exists, absent otherwise. Returns created/updated/deleted/unchanged."""
    with transaction.atomic():
        schedule = Schedule.objects.filter(pk=schedule_id).first()
        existing = PeriodicTask.objects.filter(name=task_name(schedule_id)).first()
        wanted = wanted and schedule is not None
        if not wanted:
            if existing is None:
                return "unchanged"
            existing.delete()
            return "deleted"
        clock = _clock(schedule)
        fields = {
            "task": TASK, "args": json.dumps([schedule_id]), "kwargs": "{}", "enabled": True, "one_off": False,
            "queue": None, "exchange": None, "routing_key": None, "solar": None, "clocked": None, **clock,
        }
        if existing is not None and all(getattr(existing, k) == v for k, v in fields.items()):
            return "unchanged"
        task = existing or PeriodicTask(name=task_name(schedule_id))
        for key, value in fields.items():
            setattr(task, key, value)
        # Without last_run_at an edited crontab is due at once; with it, at its next tick.
        task.last_run_at = timezone.now()
        task.description = f"Sentinel: fan out the alerts of schedule {schedule}"
        task.save()
        return "updated" if existing else "created"


def reconcile(wanted: set[int], fix: bool = True) -> list[str]:
    """Compare every Schedule with the PeriodicTasks, `wanted` being the ids of the schedules that have
    an enabled alert; report (and with fix, repair) what drifted."""
    report = []
    schedule_ids = set(Schedule.objects.values_list("pk", flat=True))
    for task in PeriodicTask.objects.filter(name__startswith=PREFIX):
        sid = task.name[len(PREFIX):]
        if not sid.isdigit() or int(sid) not in schedule_ids:
            report.append(f"orphaned: {task.name} (no such schedule)")
            if fix:
                task.delete()
    for sid in sorted(schedule_ids):
        if fix:
            result = sync_schedule(sid, sid in wanted)
            if result != "unchanged":
                report.append(f"{DRIFT[result]}: {task_name(sid)} ({result})")
        else:
            result = _drift(sid, sid in wanted)
            if result:
                report.append(f"{result}: {task_name(sid)}")
    return report


def _drift(schedule_id: int, wanted: bool) -> str:
    """What sync_schedule would do, without doing it (run in a transaction that is rolled back)."""
    try:
        with transaction.atomic():
            result = sync_schedule(schedule_id, wanted)
            raise _Rollback(result)
    except _Rollback as done:
        return DRIFT.get(done.result, "")


class _Rollback(Exception):
    def __init__(self, result):
        self.result = result
