"""Schedules mirrored into django-celery-beat: one PeriodicTask per schedule in use."""

import json

import pytest
from django_celery_beat.models import CrontabSchedule, PeriodicTask, PeriodicTasks

from alerts.mirror import reconcile
from schedules.models import Schedule
from schedules.sync import task_name
from tests.factories import LEVEL_QUERY

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def datasource(sqlite_db, make_datasource):
    return make_datasource(sqlite_db[0])


def test_identical_timings_share_one_schedule_and_one_periodic_task(datasource, make_alert):
    every5 = Schedule.objects.for_timing(cron="*/5 * * * *", timezone="Europe/Berlin")
    for _ in range(20):
        make_alert(datasource, LEVEL_QUERY, schedule=Schedule.objects.for_timing(cron="*/5 * * * *",
                                                                                 timezone="Europe/Berlin"))

    assert Schedule.objects.count() == 1
    task = PeriodicTask.objects.get(name=task_name(every5.pk))
    assert task.task == "schedules.fire_schedule" and json.loads(task.args) == [every5.pk]
    assert (task.crontab.minute, str(task.crontab.timezone)) == ("*/5", "Europe/Berlin")
    assert task.last_run_at is not None  # an edit must not fire at once


def test_disabling_the_last_alert_removes_the_periodic_task(datasource, make_alert):
    schedule = Schedule.objects.for_timing(cron="0 9 * * 1-5")
    first = make_alert(datasource, LEVEL_QUERY, schedule=schedule)
    second = make_alert(datasource, LEVEL_QUERY, schedule=schedule)

    first.enabled = False
    first.save()
    assert PeriodicTask.objects.filter(name=task_name(schedule.pk)).exists()
    second.delete()
    assert not PeriodicTask.objects.filter(name=task_name(schedule.pk)).exists()


def test_moving_an_alert_to_another_schedule_updates_both(datasource, make_alert):
    a, b = Schedule.objects.for_timing(cron="0 * * * *"), Schedule.objects.for_timing(interval_seconds=30)
    alert = make_alert(datasource, LEVEL_QUERY, schedule=a)
    alert.schedule = b
    alert.save()

    assert not PeriodicTask.objects.filter(name=task_name(a.pk)).exists()
    task = PeriodicTask.objects.get(name=task_name(b.pk))
    assert task.interval.every == 30 and task.crontab is None


def test_saving_an_alert_without_timing_changes_does_not_make_beat_reload(datasource, make_alert):
    schedule = Schedule.objects.for_timing(cron="*/10 * * * *")
    alert = make_alert(datasource, LEVEL_QUERY, schedule=schedule)
    before = PeriodicTasks.last_change()

    alert.description = "only the words changed"
    alert.save()

    assert PeriodicTasks.last_change() == before


def test_sunday_as_7_reaches_beat_as_0(datasource, make_alert):
    schedule = Schedule.objects.for_timing(cron="0 9 * * 5-7")
    make_alert(datasource, LEVEL_QUERY, schedule=schedule)
    assert PeriodicTask.objects.get(name=task_name(schedule.pk)).crontab.day_of_week == "5-6,0"


def test_reconcile_reports_and_repairs_a_hand_edited_task(datasource, make_alert):
    schedule = Schedule.objects.for_timing(cron="*/5 * * * *")
    make_alert(datasource, LEVEL_QUERY, schedule=schedule)
    task = PeriodicTask.objects.get(name=task_name(schedule.pk))
    task.crontab = CrontabSchedule.objects.create(minute="7", hour="*")
    task.save()
    PeriodicTask.objects.create(name="sentinel-schedule-999999", task="schedules.fire_schedule",
                                interval=task.interval or None, crontab=task.crontab)

    drift = reconcile(fix=False)
    assert sorted(drift) == [
        f"different: {task_name(schedule.pk)}",
        "orphaned: sentinel-schedule-999999 (no such schedule)",
    ]
    assert PeriodicTask.objects.get(name=task_name(schedule.pk)).crontab.minute == "7"  # report only

    reconcile(fix=True)
    assert PeriodicTask.objects.get(name=task_name(schedule.pk)).crontab.minute == "*/5"
    assert not PeriodicTask.objects.filter(name="sentinel-schedule-999999").exists()
    assert reconcile(fix=False) == []


def test_sync_schedules_command_prints_the_drift(datasource, make_alert):
    from django.core.management import call_command
    import io

    schedule = Schedule.objects.for_timing(cron="*/5 * * * *")
    make_alert(datasource, LEVEL_QUERY, schedule=schedule)
    PeriodicTask.objects.filter(name=task_name(schedule.pk)).delete()

    out = io.StringIO()
    call_command("sentinel", "sync-schedules", stdout=out)

    assert f"missing: {task_name(schedule.pk)}" in out.getvalue()
    assert PeriodicTask.objects.filter(name=task_name(schedule.pk)).exists()
