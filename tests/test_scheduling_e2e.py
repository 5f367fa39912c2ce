"""End to end with real processes: PostgreSQL, a private Redis, a celery worker and beat.

Two beats with a leader killed, and a worker killed mid-query, are faults 1 and 2 of the
fault suite (tests/faults/test_beat_failover.py, tests/faults/test_worker_killed.py)."""

from datetime import datetime, timedelta, timezone as tz

import pytest
from celery import Celery

from alerts.models import Execution, ExecutionStatus
from schedules.models import Schedule
from tests.factories import LEVEL_QUERY
from tests.ops_processes import (  # noqa: F401  (fixtures)
    beat_args, process_env, processes, redis_server, wait_until, worker_args,
)

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.processes, pytest.mark.needs_postgres]


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


def test_autoscale_grows_the_pool_under_a_backlog(tmp_path, redis_server, processes, make_datasource, make_alert,
                                                  pg_datasource_url):
    """Celery has known cases where --autoscale never grows; with these settings it does."""
    datasource = make_datasource(pg_datasource_url)
    alerts = [make_alert(datasource, "SELECT 'OK' AS status FROM pg_sleep(2)") for _ in range(8)]
    env = process_env(tmp_path, redis_server.url)
    worker = processes(worker_args("scaling", "--autoscale=4,1"), env, tmp_path / "worker.log")
    wait_until(lambda: "ready" in worker.output(), 30, "the worker to start", log=worker.log)
    tick = datetime.now(tz.utc).replace(microsecond=0).isoformat()
    app = Celery(broker=redis_server.url, set_as_current=False)
    for alert in alerts:
        app.send_task("alerts.run_alert", args=[alert.pk, tick], queue="alerts")

    def pool_size():
        import subprocess
        return len(subprocess.run(["pgrep", "-P", str(worker.popen.pid)], capture_output=True, text=True).stdout.split())

    wait_until(lambda: pool_size() >= 4, 20, "the pool to grow to 4 processes", interval=0.2, log=worker.log)
    wait_until(lambda: Execution.objects.filter(status=ExecutionStatus.OK).count() == 8, 30, "all eight runs")
