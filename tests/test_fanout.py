"""fire_schedule: one fan-out per tick, duplicates absorbed, gaps recorded and coalesced."""

from datetime import datetime, timedelta, timezone as tz

import pytest

from alerts import runner
from alerts.fanout import fire_schedule
from alerts.models import Execution, ExecutionStatus, Trigger
from schedules import leader
from schedules.models import FiredTick, Schedule
from tests.factories import LEVEL_QUERY

pytestmark = pytest.mark.django_db(transaction=True)

T0 = datetime(2026, 11, 24, 9, 0, tzinfo=tz.utc)


@pytest.fixture
def five_minute_alerts(sqlite_db, make_datasource, make_alert):
    schedule = Schedule.objects.for_timing(cron="*/5 * * * *")
    datasource = make_datasource(sqlite_db[0])
    alerts = [make_alert(datasource, LEVEL_QUERY, schedule=schedule, grace=timedelta(days=365)) for _ in range(3)]
    make_alert(datasource, LEVEL_QUERY, schedule=schedule, enabled=False)
    return schedule, alerts


def test_a_firing_runs_each_enabled_alert_once_for_the_nominal_tick(five_minute_alerts):
    schedule, alerts = five_minute_alerts

    fired = fire_schedule(schedule.pk, now=T0 + timedelta(seconds=2.5))

    assert fired.tick == T0 and fired.alerts == 3
    ticks = list(Execution.objects.values_list("alert_id", "scheduled_for", "trigger"))
    assert sorted(ticks) == sorted((a.pk, T0, Trigger.SCHEDULE) for a in alerts)


def test_second_beat_does_not_duplicate_executions(five_minute_alerts):
    schedule, alerts = five_minute_alerts

    first = fire_schedule(schedule.pk, now=T0 + timedelta(seconds=1))
    second = fire_schedule(schedule.pk, now=T0 + timedelta(seconds=3))

    assert first is not None and second is None
    assert FiredTick.objects.count() == 1
    assert Execution.objects.count() == 3


def test_ticks_that_never_fired_are_recorded_as_a_gap_and_run_once(five_minute_alerts):
    schedule, alerts = five_minute_alerts
    fire_schedule(schedule.pk, now=T0)

    # beat was down from 09:01 to 09:31: 09:05 ... 09:25 never fired
    fired = fire_schedule(schedule.pk, now=T0 + timedelta(minutes=31))

    assert fired.tick == T0 + timedelta(minutes=30)
    assert (fired.missed_count, fired.missed_first, fired.missed_last) == (
        5, T0 + timedelta(minutes=5), T0 + timedelta(minutes=25))
    per_alert = Execution.objects.filter(alert=alerts[0]).order_by("scheduled_for")
    assert [e.scheduled_for for e in per_alert] == [T0, T0 + timedelta(minutes=30)]


def test_a_run_that_starts_after_its_grace_is_recorded_missed(sqlite_db, make_datasource, make_alert):
    alert = make_alert(make_datasource(sqlite_db[0]), LEVEL_QUERY, grace=timedelta(seconds=30))
    late_tick = datetime.now(tz.utc) - timedelta(minutes=2)

    execution = runner.run(alert, late_tick, Trigger.SCHEDULE)

    assert execution.status == ExecutionStatus.MISSED
    assert "after its tick; the grace is 30 s" in execution.reason
    assert execution.state_after == ""  # nothing was queried or evaluated


def test_overlapping_run_is_skipped_with_the_reason(sqlite_db, make_datasource, make_alert):
    alert = make_alert(make_datasource(sqlite_db[0]), LEVEL_QUERY)
    now = datetime.now(tz.utc)
    claim, still_running = runner.claim_tick(alert, now - timedelta(seconds=20), Trigger.SCHEDULE)

    execution = runner.run(alert, now, Trigger.SCHEDULE)

    assert claim == runner.Claim.CLAIMED
    assert execution.status == ExecutionStatus.SKIPPED
    assert f"(execution {still_running.pk}) is still running" in execution.reason


def test_abandoned_execution_is_resumed_and_finished_once_its_lease_expires(sqlite_db, make_datasource, make_alert):
    alert = make_alert(make_datasource(sqlite_db[0]), LEVEL_QUERY)
    tick = datetime.now(tz.utc).replace(microsecond=0)
    _, ghost = runner.claim_tick(alert, tick, Trigger.SCHEDULE)

    waiting = runner.run_many([alert], tick, Trigger.SCHEDULE)  # its worker may still be at it
    assert waiting.executions == {} and waiting.busy[alert.pk] > 1  # looked at again once the lease ends
    Execution.objects.filter(pk=ghost.pk).update(lease_expires_at=datetime.now(tz.utc) - timedelta(seconds=1))

    finished = runner.run(alert, tick, Trigger.SCHEDULE)

    assert finished.pk == ghost.pk and finished.status == ExecutionStatus.OK and finished.attempts == 2
    again = runner.run_many([alert], tick, Trigger.SCHEDULE)
    assert again.busy == {} and again.executions[alert.pk].pk == ghost.pk  # finished: nothing left to resume


def test_a_tick_that_keeps_killing_its_worker_ends_as_error(sqlite_db, make_datasource, make_alert):
    alert = make_alert(make_datasource(sqlite_db[0]), LEVEL_QUERY)
    tick = datetime.now(tz.utc).replace(microsecond=0)
    _, ghost = runner.claim_tick(alert, tick, Trigger.SCHEDULE)
    Execution.objects.filter(pk=ghost.pk).update(attempts=runner.MAX_ATTEMPTS,
                                                 lease_expires_at=datetime.now(tz.utc) - timedelta(seconds=1))

    finished = runner.run(alert, tick, Trigger.SCHEDULE)

    assert finished.status == ExecutionStatus.ERROR
    assert "Gave up after 3 attempts" in finished.error


def test_only_one_beat_holds_the_lease_until_it_expires(settings):
    settings.SENTINEL_BEAT_LEASE_SECONDS = 15
    now = datetime.now(tz.utc)

    assert leader.acquire_or_renew("beat-a", now=now)
    assert not leader.acquire_or_renew("beat-b", now=now + timedelta(seconds=5))
    assert leader.acquire_or_renew("beat-a", now=now + timedelta(seconds=10))  # renewal
    assert not leader.acquire_or_renew("beat-b", now=now + timedelta(seconds=20))
    assert leader.acquire_or_renew("beat-b", now=now + timedelta(seconds=26))  # a's lease ran out
    assert leader.beat_heartbeat_age(now=now + timedelta(seconds=30)) == pytest.approx(4)


def test_nothing_stays_running_forever(sqlite_db, make_datasource, make_alert, settings):
    alert = make_alert(make_datasource(sqlite_db[0]), LEVEL_QUERY)
    now = datetime.now(tz.utc)
    _, dead = runner.claim_tick(alert, now - timedelta(hours=2), Trigger.SCHEDULE)
    _, queued = runner.claim_tick(alert, now - timedelta(hours=3), Trigger.API)
    _, alive = runner.claim_tick(alert, now - timedelta(seconds=5), Trigger.SCHEDULE)
    Execution.objects.filter(pk=dead.pk).update(lease_expires_at=now - settings.SENTINEL_ABANDONED_AFTER
                                                - timedelta(seconds=1))
    Execution.objects.filter(pk=queued.pk).update(lease_expires_at=None, started_at=now - timedelta(hours=3))

    reaped = runner.reap_abandoned(now)

    assert sorted(reaped) == sorted([dead.pk, queued.pk])
    assert Execution.objects.get(pk=dead.pk).status == ExecutionStatus.ERROR
    assert "queued but never picked up" in Execution.objects.get(pk=queued.pk).error
    assert Execution.objects.get(pk=alive.pk).status == ExecutionStatus.RUNNING


def test_readiness_sees_the_beat_heartbeat_of_the_lease_holder():
    from sentinel_project import health

    assert health.check_beat().ok is False  # no beat has run yet
    leader.acquire_or_renew("beat-a")
    check = health.check_beat()
    assert check.ok is True and check.data["age_seconds"] < 5
