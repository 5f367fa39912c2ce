"""Fault 8: a query runs far past its datasource's timeout, on every tick."""

import uuid
from datetime import timedelta

import pytest
import sqlalchemy as sa

from alerts.models import Execution, ExecutionStatus
from schedules.models import FiredTick, Schedule
from tests.faults.conftest import beat_args, duplicate_runs, worker_args
from tests.ops_processes import process_env, wait_until

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.processes, pytest.mark.needs_postgres]

TIMEOUT = 2  # seconds, the slow datasource's timeout
TICKS = 3


def test_slow_query_ends_as_timeout_on_time_frees_the_worker_and_never_overlaps(
        tmp_path, redis_server, processes, make_datasource, make_alert, pg_datasource_url):
    every10 = Schedule.objects.for_timing(interval_seconds=10)
    app = f"faults-slow-{uuid.uuid4().hex[:8]}"  # finds the slow datasource's own connections on the server
    slow = make_alert(make_datasource(f"{pg_datasource_url}?application_name={app}", name="slow",
                                      timeout_seconds=TIMEOUT),
                      "SELECT 'OK' AS status FROM pg_sleep(60)", name="slow", schedule=every10)
    # Its grace is wide: on a loaded box the run queued behind the slow one may start more than half a
    # period after its tick, and the promise here is that it runs, not how late.
    fast = make_alert(make_datasource(pg_datasource_url, name="fast", timeout_seconds=5),
                      "SELECT 'OK' AS status, 1 AS actual_value", name="fast", schedule=every10,
                      grace=timedelta(seconds=30))
    env = process_env(tmp_path, redis_server.url, SENTINEL_BEAT_LEASE_SECONDS=3)
    # One pool process: the fast alert waits behind the slow one, so it runs only if the slot is freed.
    processes(worker_args("w1", "--pool=prefork", "-c", "1"), env, tmp_path / "worker.log")
    processes(beat_args(tmp_path, "beat"), env, tmp_path / "beat.log")

    def finished(alert):
        return Execution.objects.filter(alert=alert).exclude(status=ExecutionStatus.RUNNING).order_by("scheduled_for")

    wait_until(lambda: finished(fast).count() >= TICKS, 40 + TICKS * 10, f"{TICKS} ticks of both alerts",
               interval=0.5, log=tmp_path / "worker.log")

    slow_runs, fast_runs = list(finished(slow)[:TICKS]), list(finished(fast)[:TICKS])
    ticks = [r.scheduled_for for r in slow_runs]
    assert [r.scheduled_for for r in fast_runs] == ticks
    assert [b - a for a, b in zip(ticks, ticks[1:])] == [timedelta(seconds=10)] * (TICKS - 1)
    assert set(ticks) <= set(FiredTick.objects.filter(schedule=every10).values_list("tick", flat=True))
    for run in slow_runs:
        assert run.status == ExecutionStatus.TIMEOUT, (run.status, run.error, run.reason)
        assert run.error == f"The query ran longer than its timeout of {TIMEOUT} s and was cancelled."
        assert TIMEOUT * 1000 <= run.duration_ms <= (TIMEOUT + 2) * 1000, run.duration_ms
    # No overlap: each slow run ended before the next began, and none was skipped as "still running".
    for earlier, later in zip(slow_runs, slow_runs[1:]):
        assert earlier.finished_at <= later.started_at
    assert not Execution.objects.filter(status=ExecutionStatus.SKIPPED).exists()
    # The worker is free again: the fast alert, queued behind the slow one, ran right after it.
    for slow_run, fast_run in zip(slow_runs, fast_runs):
        assert fast_run.status == ExecutionStatus.OK and fast_run.actual_value == 1
        assert slow_run.finished_at <= fast_run.started_at
        assert (fast_run.started_at - fast_run.scheduled_for).total_seconds() <= TIMEOUT + 2
    assert not duplicate_runs()
    # The server cancelled the statement too: the slow datasource's connections sit idle, not running.
    engine = sa.create_engine(pg_datasource_url)
    try:
        with engine.connect() as conn:
            states = conn.exec_driver_sql(
                "SELECT state FROM pg_stat_activity WHERE application_name = %(app)s", {"app": app}).scalars().all()
    finally:
        engine.dispose()
    assert states and set(states) == {"idle"}, states
    latencies = [round(r.duration_ms / 1000, 2) for r in slow_runs]
    lags = [round((r.started_at - r.scheduled_for).total_seconds(), 2) for r in fast_runs]
    print(f"FAULT-8 figures: timeout {TIMEOUT}s, TIMEOUT recorded after {latencies} s, "
          f"fast alert started {lags} s after its tick, executions {Execution.objects.count()}, "
          f"skipped 0, duplicates 0, slow datasource connections {states}")
