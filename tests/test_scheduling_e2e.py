"""End to end with real processes: PostgreSQL, a private Redis, celery workers and two beats."""

import os
import signal
import time
from datetime import datetime, timedelta, timezone as tz

import pytest
from celery import Celery
from django.db.models import Count

from alerts.models import Execution, ExecutionStatus
from schedules.models import BeatLease, FiredTick, Schedule
from tests.factories import LEVEL_QUERY
from tests.ops_processes import (  # noqa: F401  (fixtures)
    beat_args, process_env, processes, redis_server, wait_until, worker_args,
)

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.processes, pytest.mark.needs_postgres]

def test_two_beats_run_every_tick_once_and_the_standby_takes_over(
        tmp_path, redis_server, processes, sqlite_db, make_datasource, make_alert):
    every10 = Schedule.objects.for_timing(interval_seconds=10)
    datasource = make_datasource(sqlite_db[0])
    alerts = [make_alert(datasource, LEVEL_QUERY, schedule=every10) for _ in range(3)]
    env = process_env(tmp_path, redis_server.url, SENTINEL_BEAT_LEASE_SECONDS=3)
    processes(worker_args("w1", "--pool=threads", "-c", "4"), env, tmp_path / "worker.log")
    beat_a = processes(beat_args(tmp_path, "beat-a"), env, tmp_path / "beat-a.log")
    beat_b = processes(beat_args(tmp_path, "beat-b"), env, tmp_path / "beat-b.log")

    wait_until(lambda: FiredTick.objects.filter(schedule=every10).count() >= 3, 60, "three ticks to fire",
               interval=0.5, log=tmp_path / "worker.log")
    ticks = list(FiredTick.objects.filter(schedule=every10).order_by("tick"))
    wait_until(lambda: Execution.objects.filter(scheduled_for__lte=ticks[-1].tick).exclude(
        status=ExecutionStatus.RUNNING).count() >= 3 * len(ticks), 20, "the executions of those ticks")

    for tick in ticks:
        runs = Execution.objects.filter(scheduled_for=tick.tick)
        assert sorted(runs.values_list("alert_id", flat=True)) == sorted(a.pk for a in alerts)
        assert all(r.status == ExecutionStatus.OK for r in runs)
        assert all((r.started_at - tick.tick).total_seconds() < 5 for r in runs), "fire lag under 5 s"
    assert not Execution.objects.values("alert", "scheduled_for").annotate(n=Count("id")).filter(n__gt=1).exists()
    sent = {b: b.output().count("Sending due task sentinel-schedule") for b in (beat_a, beat_b)}
    assert sorted(sent.values())[0] == 0, f"the standby beat sent nothing: {sent}"

    # Kill the leader: the standby takes over within its lease and the ticks go on.
    leader = beat_a if sent[beat_a] else beat_b
    standby = beat_b if leader is beat_a else beat_a
    leader.signal(signal.SIGKILL)
    killed_at = datetime.now(tz.utc)
    wait_until(lambda: FiredTick.objects.filter(schedule=every10, fired_at__gt=killed_at).exists(), 25,
               "a tick fired by the standby", interval=0.5, log=standby.log)
    takeover = FiredTick.objects.filter(schedule=every10, fired_at__gt=killed_at).order_by("tick").first()
    assert (takeover.fired_at - killed_at).total_seconds() < 3 + 10 + 2
    assert "Sending due task sentinel-schedule" in standby.output()
    assert BeatLease.objects.get().holder.endswith(str(standby.popen.pid))
    fired = list(FiredTick.objects.filter(schedule=every10).order_by("tick").values_list("tick", "missed_count"))
    expected = [ticks[0].tick + timedelta(seconds=10 * i) for i in range(len(fired) + sum(m for _, m in fired))]
    assert sorted([t for t, _ in fired]) == sorted(set(expected) & {t for t, _ in fired}), "every tick fired or counted"

    # Disable one alert: it stops at the next tick, without a restart.
    alerts[0].enabled = False
    alerts[0].save()
    disabled_at = datetime.now(tz.utc)
    wait_until(lambda: FiredTick.objects.filter(schedule=every10, fired_at__gt=disabled_at).exists(), 25,
               "the next tick after disabling", interval=0.5)
    after = FiredTick.objects.filter(schedule=every10, fired_at__gt=disabled_at).first()
    wait_until(lambda: Execution.objects.filter(scheduled_for=after.tick).exclude(status="RUNNING").count() == 2, 15,
               "the two enabled alerts' runs")
    assert not Execution.objects.filter(alert=alerts[0], scheduled_for__gte=after.tick).exists()


def test_edited_schedule_applies_at_the_next_tick_without_a_restart(
        tmp_path, redis_server, processes, sqlite_db, make_datasource, make_alert):
    every60 = Schedule.objects.for_timing(interval_seconds=60)
    alert = make_alert(make_datasource(sqlite_db[0]), LEVEL_QUERY, schedule=every60)
    env = process_env(tmp_path, redis_server.url, SENTINEL_BEAT_LEASE_SECONDS=3)
    processes(worker_args("w1", "--pool=threads", "-c", "2"), env, tmp_path / "worker.log")
    beat = processes(beat_args(tmp_path, "beat"), env, tmp_path / "beat.log")
    wait_until(lambda: "beat: Starting" in beat.output() or "Scheduler" in beat.output(), 20, "beat to start")

    every10 = Schedule.objects.for_timing(interval_seconds=10)
    alert.schedule = every10
    alert.save()
    edited_at = datetime.now(tz.utc)

    wait_until(lambda: Execution.objects.filter(alert=alert, scheduled_for__gt=edited_at).count() >= 2, 40,
               "two runs on the new 10 s timing", interval=0.5, log=tmp_path / "beat.log")
    runs = list(Execution.objects.filter(alert=alert, scheduled_for__gt=edited_at).order_by("scheduled_for")[:2])
    assert (runs[1].scheduled_for - runs[0].scheduled_for) == timedelta(seconds=10)
    assert all(r.scheduled_for.timestamp() % 10 == 0 for r in runs)


def test_worker_killed_mid_query_leaves_one_finished_execution(
        tmp_path, redis_server, processes, make_datasource, make_alert, pg_datasource_url):
    alert = make_alert(make_datasource(pg_datasource_url, timeout_seconds=10),
                       "SELECT 'OK' AS status, 1 AS actual_value FROM pg_sleep(4)")
    env = process_env(tmp_path, redis_server.url, SENTINEL_LEASE_MARGIN_SECONDS=2,
                      CELERY_BROKER_VISIBILITY_TIMEOUT=6, CELERY_BROKER_RESTORE_INTERVAL=1)
    doomed = processes(worker_args("doomed", "--pool=prefork", "-c", "1"), env, tmp_path / "doomed.log")
    wait_until(lambda: "ready" in doomed.output(), 30, "the first worker to start", log=doomed.log)
    tick = datetime.now(tz.utc).replace(microsecond=0)
    Celery(broker=redis_server.url).send_task("alerts.run_alert", args=[alert.pk, tick.isoformat()], queue="alerts")

    wait_until(lambda: Execution.objects.filter(alert=alert, status=ExecutionStatus.RUNNING).exists(), 20,
               "the query to start", log=doomed.log)
    time.sleep(0.5)  # let pg_sleep begin; killing during the claim would test something else
    os.killpg(doomed.popen.pid, signal.SIGKILL)  # the main process and its pool child, as the OOM killer would
    survivor = processes(worker_args("survivor", "--pool=prefork", "-c", "1"), env, tmp_path / "survivor.log")

    wait_until(lambda: Execution.objects.filter(alert=alert).exclude(status=ExecutionStatus.RUNNING).exists(), 60,
               "the execution to be finished by the other worker", interval=0.5, log=survivor.log)
    execution = Execution.objects.get(alert=alert)
    assert execution.status == ExecutionStatus.OK and execution.scheduled_for == tick
    assert execution.attempts == 2 and execution.worker != ""
    assert Execution.objects.filter(alert=alert).count() == 1


def test_autoscale_grows_the_pool_under_a_backlog(tmp_path, redis_server, processes, make_datasource, make_alert,
                                                  pg_datasource_url):
    """Celery has known cases where --autoscale never grows; with these settings it does."""
    datasource = make_datasource(pg_datasource_url)
    alerts = [make_alert(datasource, "SELECT 'OK' AS status FROM pg_sleep(2)") for _ in range(8)]
    env = process_env(tmp_path, redis_server.url)
    worker = processes(worker_args("scaling", "--autoscale=4,1"), env, tmp_path / "worker.log")
    wait_until(lambda: "ready" in worker.output(), 30, "the worker to start", log=worker.log)
    tick = datetime.now(tz.utc).replace(microsecond=0).isoformat()
    app = Celery(broker=redis_server.url)
    for alert in alerts:
        app.send_task("alerts.run_alert", args=[alert.pk, tick], queue="alerts")

    def pool_size():
        import subprocess
        return len(subprocess.run(["pgrep", "-P", str(worker.popen.pid)], capture_output=True, text=True).stdout.split())

    wait_until(lambda: pool_size() >= 4, 20, "the pool to grow to 4 processes", interval=0.2, log=worker.log)
    wait_until(lambda: Execution.objects.filter(status=ExecutionStatus.OK).count() == 8, 30, "all eight runs")
