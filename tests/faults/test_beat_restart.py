"""Fault 3: beat is SIGKILLed and comes back later (30 s here, not the issue's 2 min, to keep
the suite fast; the arithmetic is the same for any gap)."""

import signal
import time
from datetime import UTC, datetime, timedelta

import pytest

from alerts.models import Execution, ExecutionStatus
from schedules.models import FiredTick, Schedule
from tests.factories import LEVEL_QUERY
from tests.faults.conftest import beat_args, duplicate_runs, worker_args
from tests.ops_processes import process_env, wait_until

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.processes, pytest.mark.needs_postgres]

OUTAGE = 30  # seconds beat stays dead


def test_beat_down_30s_then_back_runs_each_alert_once_and_records_the_gap(
        tmp_path, redis_server, processes, sqlite_db, make_datasource, make_alert):
    every10 = Schedule.objects.for_timing(interval_seconds=10)
    datasource = make_datasource(sqlite_db[0])
    alerts = [make_alert(datasource, LEVEL_QUERY, schedule=every10) for _ in range(2)]
    env = process_env(tmp_path, redis_server.url, SENTINEL_BEAT_LEASE_SECONDS=3)
    processes(worker_args("w1", "--pool=threads", "-c", "4"), env, tmp_path / "worker.log")
    beat = processes(beat_args(tmp_path, "beat-1"), env, tmp_path / "beat-1.log")
    wait_until(lambda: FiredTick.objects.filter(schedule=every10).count() >= 2, 40, "two ticks before the fault",
               interval=0.5, log=beat.log)

    beat.signal(signal.SIGKILL)
    killed_at = datetime.now(UTC)
    last_before = FiredTick.objects.filter(schedule=every10).order_by("-tick").first()
    time.sleep(OUTAGE)  # the fault itself: beat stays dead this long (not a synchronisation)
    restarted_at = datetime.now(UTC)
    beat = processes(beat_args(tmp_path, "beat-2"), env, tmp_path / "beat-2.log")

    wait_until(lambda: FiredTick.objects.filter(schedule=every10, fired_at__gt=restarted_at).count() >= 2, 40,
               "two ticks after the restart", interval=0.5, log=beat.log)
    first, second = FiredTick.objects.filter(schedule=every10, fired_at__gt=restarted_at).order_by("tick")[:2]
    recovery = (first.fired_at - restarted_at).total_seconds()
    wait_until(lambda: Execution.objects.filter(scheduled_for__lte=second.tick).exclude(
        status=ExecutionStatus.RUNNING).count() == len(alerts) * FiredTick.objects.filter(
        schedule=every10, tick__lte=second.tick).count(), 20, "the runs of every fired tick")

    # The gap is recorded on the first tick after the restart, tick for tick.
    gap = round((first.tick - last_before.tick).total_seconds() / 10) - 1
    assert gap >= OUTAGE // 10 - 1
    assert first.missed_count == gap
    assert first.missed_first == last_before.tick + timedelta(seconds=10)
    assert first.missed_last == first.tick - timedelta(seconds=10)
    # One coalesced run per alert, no burst of catch-up runs for the missed ticks.
    for alert in alerts:
        ticks = list(Execution.objects.filter(alert=alert, scheduled_for__gt=last_before.tick,
                                              scheduled_for__lte=second.tick).values_list("scheduled_for", flat=True))
        assert sorted(ticks) == [first.tick, second.tick]
    assert not Execution.objects.filter(scheduled_for__gt=last_before.tick, scheduled_for__lt=first.tick).exists()
    assert second.missed_count == 0
    assert not duplicate_runs()
    fired = FiredTick.objects.filter(schedule=every10).count()
    print(f"FAULT-3 figures: outage {OUTAGE}s, ticks fired {fired}, missed recorded {first.missed_count}, "
          f"executions {Execution.objects.count()} (expected {fired * len(alerts)}), duplicates 0, "
          f"first tick {recovery:.1f}s after restart, killed {killed_at:%H:%M:%S}")
