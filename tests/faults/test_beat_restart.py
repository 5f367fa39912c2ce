"""Fault 3: the only beat is SIGKILLed and restarted 2 minutes later."""

import signal
import time
from datetime import UTC, datetime, timedelta

import pytest

from alerts.models import Execution, Notification
from schedules.models import FiredTick, Schedule
from tests.factories import LEVEL_QUERY
from tests.faults.conftest import beat_args, check_books, settle, worker_args
from tests.ops_processes import process_env, wait_until

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.processes, pytest.mark.needs_postgres]

OUTAGE = 120  # seconds beat stays dead


def test_beat_down_2_minutes_then_back_runs_each_alert_once_and_records_the_gap(
        tmp_path, redis_server, processes, sqlite_db, make_datasource, make_alert, sink, hook):
    url, set_knob = sqlite_db
    set_knob("level", 9)
    every10 = Schedule.objects.for_timing(interval_seconds=10)
    datasource = make_datasource(url)
    alerts = [make_alert(datasource, LEVEL_QUERY, schedule=every10, channels=[hook]) for _ in range(2)]
    env = process_env(tmp_path, redis_server.url, SENTINEL_BEAT_LEASE_SECONDS=3)
    processes(worker_args("w1", "--pool=threads", "-c", "4"), env, tmp_path / "worker.log")
    beat = processes(beat_args(tmp_path, "beat-1"), env, tmp_path / "beat-1.log")
    wait_until(lambda: Notification.objects.filter(event="firing").count() == len(alerts), 40,
               "the alerts to fire before the fault", interval=0.5, log=beat.log)

    beat.signal(signal.SIGKILL)
    killed_at = time.monotonic()
    last_before = FiredTick.objects.filter(schedule=every10).order_by("-tick").first()
    set_knob("level", 2)  # recovers while beat is down: the run after the restart owes a resolved
    time.sleep(OUTAGE)  # the fault itself: beat stays dead this long (not a synchronisation)
    restarted_at, outage = datetime.now(UTC), time.monotonic() - killed_at
    beat = processes(beat_args(tmp_path, "beat-2"), env, tmp_path / "beat-2.log")

    wait_until(lambda: FiredTick.objects.filter(schedule=every10, fired_at__gt=restarted_at).count() >= 2, 40,
               "two ticks after the restart", interval=0.5, log=beat.log)
    first, second = FiredTick.objects.filter(schedule=every10, fired_at__gt=restarted_at).order_by("tick")[:2]
    recovery = (first.fired_at - restarted_at).total_seconds()
    until = settle(every10, alerts, log=tmp_path / "worker.log")
    books = check_books(every10, alerts, until, sink)

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
    assert second.missed_count == 0
    assert books.events == {"firing": len(alerts), "resolved": len(alerts)}
    print(f"FAULT-3 figures: beat down {outage:.0f}s; "
          f"{books}; gap of {first.missed_count} tick(s) on the first tick after the restart, which fired "
          f"{recovery:.1f}s after it")
