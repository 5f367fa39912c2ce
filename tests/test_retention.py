"""Retention prunes old history in batches, per-alert overrides win, the latest execution always stays."""

from datetime import timedelta
from importlib import import_module

import pytest
from django.apps import apps
from django.test import override_settings
from django.utils import timezone
from django_celery_beat.models import PeriodicTask

from alerts import retention
from alerts.models import AlertState, Channel, DeliveryAttempt, Execution, ExecutionStatus, Notification, Trigger

pytestmark = pytest.mark.django_db

NOW = timezone.now().replace(microsecond=0)


def history(alert, *ages_in_days, channel=None):
    """One finished execution per age (days before NOW), each with a notification and an attempt."""
    made = []
    for days in ages_in_days:
        tick = NOW - timedelta(days=days)
        execution = Execution.objects.create(alert=alert, scheduled_for=tick, trigger=Trigger.SCHEDULE,
                                             status=ExecutionStatus.OK, started_at=tick, finished_at=tick)
        if channel is not None:
            notification = Notification.objects.create(execution=execution, alert=alert, channel=channel,
                                                       event="firing", status="sent", created_at=tick)
            DeliveryAttempt.objects.create(notification=notification, started_at=tick, ok=True)
        made.append(execution)
    return made


@pytest.fixture
def alert_factory(sqlite_db, make_datasource, make_alert):
    datasource = make_datasource(sqlite_db[0])
    return lambda **kw: make_alert(datasource, "SELECT 'OK' AS status", **kw)


def ages(alert):
    return sorted((NOW - e.scheduled_for).days for e in Execution.objects.filter(alert=alert))


def test_history_older_than_90_days_goes_with_its_notifications_and_attempts(alert_factory):
    channel = Channel.objects.create(name="ops", kind="log")
    alert = alert_factory()
    history(alert, 200, 120, 91, 89, 10, 0, channel=channel)

    pruned = retention.prune(now=NOW)

    assert ages(alert) == [0, 10, 89]
    assert (pruned.executions, pruned.notifications, pruned.delivery_attempts) == (3, 3, 3)
    assert Notification.objects.count() == 3 and DeliveryAttempt.objects.count() == 3
    assert pruned.finished


def test_latest_execution_of_an_alert_is_kept_however_old(alert_factory, log_channel):
    quiet = alert_factory(enabled=False)
    latest = history(quiet, 400, 300, 200)[-1]
    AlertState.objects.create(alert=quiet, last_execution=latest)

    retention.prune(now=NOW)

    assert list(Execution.objects.filter(alert=quiet)) == [latest]
    assert AlertState.objects.get(alert=quiet).last_execution == latest


def test_per_alert_retention_overrides_the_default(alert_factory):
    short = alert_factory(retention_days=7)
    long = alert_factory(retention_days=365)
    default = alert_factory()
    for alert in (short, long, default):
        history(alert, 300, 100, 30, 8, 1)

    with override_settings(SENTINEL_RETENTION_DAYS=60):
        retention.prune(now=NOW)

    assert ages(short) == [1]
    assert ages(long) == [1, 8, 30, 100, 300]
    assert ages(default) == [1, 8, 30]


def test_pruning_goes_in_batches_and_a_time_budget_leaves_the_rest_for_the_next_run(alert_factory):
    alert = alert_factory()
    history(alert, *range(100, 125), 0)

    partial = retention.prune(now=NOW, batch_size=10, max_seconds=0)
    assert partial.executions == 0 and not partial.finished

    complete = retention.prune(now=NOW, batch_size=10)
    assert complete.executions == 25 and complete.finished
    assert ages(alert) == [0]


def test_the_hourly_prune_is_registered_with_beat_once():
    migration = import_module("alerts.migrations.0004_prune_history_periodic_task")
    PeriodicTask.objects.filter(name=migration.NAME).delete()

    migration.register(apps, None)
    migration.register(apps, None)

    task = PeriodicTask.objects.get(name=migration.NAME)
    assert task.task == "alerts.prune_history" and task.enabled
    assert (task.crontab.minute, task.crontab.hour) == ("17", "*")


def test_the_prune_task_prunes(alert_factory):
    from alerts.tasks import prune_history

    alert = alert_factory()
    history(alert, 100, 0)

    prune_history.delay()  # eager in tests: runs here

    assert ages(alert) == [0]
