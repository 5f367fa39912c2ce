"""Alerts of one schedule and datasource run as a batch: one claim insert, one
recording transaction, and the same books as one run per alert."""

import threading
import time
from datetime import timedelta

import pytest
from django.db import connection, connections
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from alerts import runner
from alerts.fanout import batches, fire_schedule
from alerts.models import AlertState, Execution, ExecutionStatus, Notification, State, Trigger
from schedules.models import Schedule
from tests.factories import LEVEL_QUERY

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def minute_schedule(db):
    return Schedule.objects.for_timing(cron="* * * * *")


def test_a_batch_gives_each_alert_its_execution_state_and_notification(sqlite_db, make_datasource, make_alert,
                                                                        log_channel, minute_schedule):
    url, set_knob = sqlite_db
    set_knob("level", 9)
    datasource = make_datasource(url)
    alerts = [make_alert(datasource, LEVEL_QUERY, schedule=minute_schedule, channels=[log_channel]) for _ in range(4)]
    tick = timezone.now()

    batch = runner.run_many(alerts, tick, Trigger.SCHEDULE)

    assert sorted(batch.executions) == sorted(a.pk for a in alerts)
    assert {e.status for e in Execution.objects.all()} == {ExecutionStatus.ALERT}
    assert Execution.objects.count() == 4
    assert {s.state for s in AlertState.objects.all()} == {State.FIRING}
    assert sorted(Notification.objects.values_list("alert_id", "event")) == sorted((a.pk, "firing") for a in alerts)
    for alert in alerts:
        alert.refresh_from_db()
        assert (alert.state, alert.last_status, alert.last_value, alert.firing_instances) == (
            State.FIRING, ExecutionStatus.ALERT, 9, 1)


def test_sentinel_database_work_does_not_grow_with_the_batch(sqlite_db, make_datasource, make_alert,
                                                             minute_schedule):
    datasource = make_datasource(sqlite_db[0])
    alerts = [make_alert(datasource, LEVEL_QUERY, schedule=minute_schedule) for _ in range(30)]
    counts = []
    for size in (3, 30):
        tick = timezone.now()
        runner.run_many(alerts[:size], tick, Trigger.SCHEDULE)  # the first run creates the states
        with CaptureQueriesContext(connection) as queries:
            runner.run_many(alerts[:size], tick + timedelta(seconds=1), Trigger.SCHEDULE)
        counts.append(len(queries.captured_queries))

    assert counts[0] == counts[1], counts


def test_a_repeated_batch_message_runs_nothing_twice(sqlite_db, make_datasource, make_alert, log_channel,
                                                     minute_schedule):
    sqlite_db[1]("level", 9)
    datasource = make_datasource(sqlite_db[0])
    alerts = [make_alert(datasource, LEVEL_QUERY, schedule=minute_schedule, channels=[log_channel]) for _ in range(3)]
    tick = timezone.now()

    first = runner.run_many(alerts, tick, Trigger.SCHEDULE)
    again = runner.run_many(alerts, tick, Trigger.SCHEDULE)

    assert Execution.objects.count() == 3 and Notification.objects.count() == 3
    assert {e.pk for e in again.executions.values()} == {e.pk for e in first.executions.values()}


def test_a_batch_skips_ticks_claimed_elsewhere_and_says_when_to_look_again(sqlite_db, make_datasource, make_alert,
                                                                          minute_schedule):
    datasource = make_datasource(sqlite_db[0])
    done, busy, free = [make_alert(datasource, LEVEL_QUERY, schedule=minute_schedule) for _ in range(3)]
    tick = timezone.now()
    finished = runner.run(done, tick, Trigger.SCHEDULE)
    runner.claim_tick(busy, tick, Trigger.SCHEDULE)  # another worker's live claim

    batch = runner.run_many([done, busy, free], tick, Trigger.SCHEDULE)

    assert batch.executions[done.pk].pk == finished.pk
    assert batch.executions[free.pk].status == ExecutionStatus.OK
    assert list(batch.busy) == [busy.pk] and batch.busy[busy.pk] > 1
    assert Execution.objects.get(alert=busy).status == ExecutionStatus.RUNNING


def test_claims_that_collide_inside_one_insert_fall_back_to_one_by_one(sqlite_db, make_datasource, make_alert):
    datasource = make_datasource(sqlite_db[0])
    a, b = make_alert(datasource, LEVEL_QUERY), make_alert(datasource, LEVEL_QUERY)
    tick = timezone.now()

    claims = runner.claim_ticks([a, b, a], tick, Trigger.SCHEDULE)

    assert [c for c, _ in claims] == [runner.Claim.CLAIMED, runner.Claim.CLAIMED, runner.Claim.BUSY]
    assert Execution.objects.count() == 2


def test_a_batch_out_of_time_hands_back_what_it_did_not_start(settings, sqlite_db, make_datasource, make_alert,
                                                              minute_schedule):
    settings.SENTINEL_BATCH_SECONDS = 0
    datasource = make_datasource(sqlite_db[0])
    alerts = [make_alert(datasource, LEVEL_QUERY, schedule=minute_schedule) for _ in range(4)]
    tick = timezone.now()

    batch = runner.run_many(alerts, tick, Trigger.SCHEDULE)

    assert list(batch.executions) == [alerts[0].pk]
    assert batch.handed_back == [a.pk for a in alerts[1:]]
    assert list(Execution.objects.values_list("alert_id", flat=True)) == [alerts[0].pk]  # nothing left claimed
    settings.SENTINEL_BATCH_SECONDS = 30
    rest = runner.run_many_by_id(batch.handed_back, tick, Trigger.SCHEDULE)
    assert sorted(rest.executions) == batch.handed_back
    assert Execution.objects.filter(status=ExecutionStatus.OK).count() == 4


@pytest.mark.needs_postgres
def test_a_slow_batch_keeps_its_waiting_alerts_leased(settings, pg_datasource_url, make_datasource, make_alert,
                                                      minute_schedule):
    # Without renewal the last alert's lease (timeout 1 s + margin 1 s) runs out while the
    # three before it sleep 0.6 s each: another worker could then take it over.
    settings.SENTINEL_LEASE_MARGIN = timedelta(seconds=1)
    datasource = make_datasource(pg_datasource_url, timeout_seconds=1)
    alerts = [make_alert(datasource, "SELECT 'OK' AS status FROM pg_sleep(0.6)", schedule=minute_schedule)
              for _ in range(4)]
    expired, stop = [], threading.Event()

    def watch():
        try:
            while not stop.is_set():
                now = timezone.now()
                expired.extend(Execution.objects.filter(status=ExecutionStatus.RUNNING, lease_expires_at__lt=now)
                               .values_list("alert_id", flat=True))
                time.sleep(0.05)
        finally:
            connections.close_all()

    watcher = threading.Thread(target=watch)
    watcher.start()
    try:
        batch = runner.run_many(alerts, timezone.now(), Trigger.SCHEDULE)
    finally:
        stop.set()
        watcher.join()

    assert {e.status for e in batch.executions.values()} == {ExecutionStatus.OK}
    assert expired == []


def test_the_fanout_batches_alerts_by_datasource(settings, sqlite_db, make_datasource, make_alert, minute_schedule):
    settings.SENTINEL_RUN_BATCH_SIZE = 2
    first, second = make_datasource(sqlite_db[0], name="first"), make_datasource(sqlite_db[0], name="second")
    late_ok = timedelta(minutes=5)  # whatever second of the minute the test runs at
    on_first = [make_alert(first, LEVEL_QUERY, schedule=minute_schedule, grace=late_ok) for _ in range(3)]
    on_second = [make_alert(second, LEVEL_QUERY, schedule=minute_schedule, grace=late_ok) for _ in range(2)]
    alerts = [(a.pk, a.datasource_id) for a in on_first + on_second]

    assert batches(alerts) == [[on_first[0].pk, on_first[1].pk], [on_first[2].pk], [a.pk for a in on_second]]

    fired = fire_schedule(minute_schedule.pk)
    assert fired.alerts == 5
    assert Execution.objects.filter(scheduled_for=fired.tick, status=ExecutionStatus.OK).count() == 5
