"""Retention prunes old history in batches, per-alert overrides win, the latest execution always stays,
and nothing goes that the statistics' hourly rollups do not hold yet."""

from datetime import timedelta
from importlib import import_module

import pytest
from django.apps import apps
from django.test import override_settings
from django.utils import timezone
from django_celery_beat.models import PeriodicTask

from alerts import retention, rollups
from alerts.models import (
    AlertState, Channel, DeliveryAttempt, Execution, ExecutionRollup, ExecutionStatus, Notification, RollupProgress,
    Trigger,
)

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


def rolled_up_and_pruned(**options):
    """What the two periodic tasks do: roll the history up, then prune it."""
    rollups.roll_up()
    return retention.prune(now=NOW, **options)


def ages(alert):
    return sorted((NOW - e.scheduled_for).days for e in Execution.objects.filter(alert=alert))


def test_history_older_than_90_days_goes_with_its_notifications_and_attempts(alert_factory):
    channel = Channel.objects.create(name="ops", kind="log")
    alert = alert_factory()
    history(alert, 200, 120, 91, 89, 10, 0, channel=channel)

    pruned = rolled_up_and_pruned()

    assert ages(alert) == [0, 10, 89]
    assert (pruned.executions, pruned.notifications, pruned.delivery_attempts) == (3, 3, 3)
    assert Notification.objects.count() == 3 and DeliveryAttempt.objects.count() == 3
    assert pruned.finished


def test_latest_execution_of_an_alert_is_kept_however_old(alert_factory, log_channel):
    quiet = alert_factory(enabled=False)
    latest = history(quiet, 400, 300, 200)[-1]
    AlertState.objects.create(alert=quiet, last_execution=latest)

    rolled_up_and_pruned()

    assert list(Execution.objects.filter(alert=quiet)) == [latest]
    assert AlertState.objects.get(alert=quiet).last_execution == latest


def test_per_alert_retention_overrides_the_default(alert_factory):
    short = alert_factory(retention_days=7)
    long = alert_factory(retention_days=365)
    default = alert_factory()
    for alert in (short, long, default):
        history(alert, 300, 100, 30, 8, 1)

    # A raw window as long as the longest retention: every run is kept until its alert's retention
    # (tests/test_tiered_history.py has what goes before it).
    with override_settings(SENTINEL_RETENTION_DAYS=60, SENTINEL_RAW_HISTORY_DAYS=365):
        rolled_up_and_pruned()

    assert ages(short) == [1]
    assert ages(long) == [1, 8, 30, 100, 300]
    assert ages(default) == [1, 8, 30]


def test_pruning_goes_in_batches_and_a_time_budget_leaves_the_rest_for_the_next_run(alert_factory):
    alert = alert_factory()
    history(alert, *range(100, 125), 0)

    partial = rolled_up_and_pruned(batch_size=10, max_seconds=0)
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
    rollups.roll_up()

    prune_history.delay()  # eager in tests: runs here

    assert ages(alert) == [0]


def test_nothing_is_pruned_before_the_history_is_rolled_up(alert_factory):
    alert = alert_factory()
    history(alert, 200, 100, 0)

    assert retention.prune(now=NOW).executions == 0
    assert ages(alert) == [0, 100, 200]

    rolled_up_and_pruned()
    assert ages(alert) == [0]
    # What the statistics read instead (the hour of the run just now may not have settled yet).
    assert ExecutionRollup.objects.filter(alert=alert, hour__lt=NOW - timedelta(days=1)).count() == 2


def test_a_run_recorded_since_the_last_roll_up_pass_stays_until_its_hour_is_rolled_up_again(alert_factory):
    alert = alert_factory()
    history(alert, 0)
    rollups.roll_up()
    RollupProgress.objects.update(checked_until=NOW - timedelta(hours=1))  # the last pass was an hour ago
    tick = NOW - timedelta(days=95)
    Execution.objects.create(alert=alert, scheduled_for=tick, trigger=Trigger.SCHEDULE, status=ExecutionStatus.MISSED,
                             started_at=NOW - timedelta(minutes=30), finished_at=NOW - timedelta(minutes=30))

    retention.prune(now=NOW)
    assert ages(alert) == [0, 95]

    rolled_up_and_pruned()
    assert ages(alert) == [0]
    assert ExecutionRollup.objects.get(alert=alert, hour=tick.replace(minute=0, second=0)).runs_missed == 1


def test_rollups_are_kept_400_days(alert_factory):
    alert = alert_factory()
    history(alert, 0)
    rollups.roll_up()
    for days in (401, 399):
        ExecutionRollup.objects.create(alert=alert, hour=(NOW - timedelta(days=days)).replace(minute=0, second=0),
                                       runs_ok=60, rolled_at=NOW)

    pruned = retention.prune(now=NOW)

    assert pruned.rollups == 1
    assert [(NOW - r.hour).days for r in ExecutionRollup.objects.filter(alert=alert, hour__lt=NOW - timedelta(days=1))
            ] == [399]


def test_every_relation_to_an_execution_is_let_go_of_when_it_is_pruned():
    """Retention deletes executions by id, without Django's cascade: a new foreign key to Execution
    must be added to retention.RELATIONS (and handled there), or pruning would break it."""
    relations = {(model._meta.label, f.name) for model in apps.get_models() for f in model._meta.fields
                 if f.is_relation and f.related_model is Execution}
    assert relations == set(retention.RELATIONS)


def test_a_pruned_execution_an_instance_still_points_at_leaves_it_pointing_at_nothing(alert_factory):
    alert = alert_factory()
    old, _ = history(alert, 100, 0)
    instance = AlertState.objects.create(alert=alert, key="eu", state="OK", last_execution=old)

    rolled_up_and_pruned()

    instance.refresh_from_db()
    assert instance.last_execution is None and not Execution.objects.filter(pk=old.pk).exists()
