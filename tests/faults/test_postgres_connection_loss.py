"""Fault 5: every connection to Sentinel's own PostgreSQL database is terminated mid-run
(what a failover or a DBA's pg_terminate_backend does to workers and beat)."""

from datetime import UTC, datetime

import pytest
from django.db import connection

from alerts.models import Execution, ExecutionStatus
from schedules.models import FiredTick, Schedule
from tests.faults.conftest import beat_args, duplicate_runs, pg_sleep_running, worker_args
from tests.ops_processes import process_env, wait_until

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.processes, pytest.mark.needs_postgres]

SLOW_OK = "SELECT 'OK' AS status, 1 AS actual_value FROM pg_sleep(2)"


def terminate_sentinel_backends() -> int:
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                       "WHERE datname = current_database() AND pid <> pg_backend_pid()")
        return cursor.fetchone()[0]


def test_postgres_connections_killed_mid_run_nothing_stays_running_and_next_ticks_run(
        tmp_path, redis_server, processes, make_datasource, make_alert, pg_datasource_url):
    every10 = Schedule.objects.for_timing(interval_seconds=10)
    datasource = make_datasource(pg_datasource_url, timeout_seconds=10)
    alerts = [make_alert(datasource, SLOW_OK, schedule=every10) for _ in range(2)]
    env = process_env(tmp_path, redis_server.url, SENTINEL_BEAT_LEASE_SECONDS=3, SENTINEL_LEASE_MARGIN_SECONDS=2,
                      CELERY_BROKER_VISIBILITY_TIMEOUT=8, CELERY_BROKER_RESTORE_INTERVAL=1)
    processes(worker_args("w1", "--pool=threads", "-c", "4"), env, tmp_path / "worker.log")
    processes(beat_args(tmp_path, "beat"), env, tmp_path / "beat.log")

    wait_until(lambda: Execution.objects.filter(status=ExecutionStatus.RUNNING).count() == 2, 40,
               "two runs in flight", interval=0.2, log=tmp_path / "worker.log")
    in_flight = list(Execution.objects.filter(status=ExecutionStatus.RUNNING).values_list("pk", flat=True))
    # The loss must hit a query in flight, not the claim.
    wait_until(lambda: pg_sleep_running(pg_datasource_url), 10, "pg_sleep to be running", interval=0.05,
               log=tmp_path / "worker.log")
    terminated = terminate_sentinel_backends()
    lost_at = datetime.now(UTC)
    assert terminated >= 2, "workers and beat held connections to terminate"

    def ticks_after_loss_done():
        ticks = list(FiredTick.objects.filter(schedule=every10, fired_at__gt=lost_at).order_by("-tick")
                     .values_list("tick", flat=True)[:2])
        done = Execution.objects.filter(scheduled_for__in=ticks, status=ExecutionStatus.OK).count()
        return len(ticks) == 2 and done == 4
    wait_until(ticks_after_loss_done, 45, "two ticks after the loss to run OK", interval=0.5,
               log=tmp_path / "worker.log")
    wait_until(lambda: not Execution.objects.filter(pk__in=in_flight, status=ExecutionStatus.RUNNING).exists(), 10,
               "the runs in flight to be finished", interval=0.5, log=tmp_path / "worker.log")
    first_after = FiredTick.objects.filter(schedule=every10, fired_at__gt=lost_at).order_by("tick").first()
    wait_until(lambda: not Execution.objects.filter(status=ExecutionStatus.RUNNING).exists(), 15,
               "no run left RUNNING", interval=0.5)

    ticks = set(FiredTick.objects.filter(schedule=every10).values_list("tick", flat=True))
    for alert in alerts:
        runs = list(Execution.objects.filter(alert=alert).values_list("scheduled_for", flat=True))
        assert set(runs) <= ticks and ticks - set(runs) <= {max(ticks)}
    assert not duplicate_runs()
    # The broken-off runs were resumed and finished (not left RUNNING for the reaper).
    crashed = list(Execution.objects.filter(pk__in=in_flight).values_list("status", "attempts"))
    assert crashed == [(ExecutionStatus.OK, 2)] * 2, crashed
    # On a loaded machine the resumed run may still be busy at the next tick: that one tick is
    # SKIPPED (no overlapping runs of one alert), never failed, and the ticks after it run.
    skipped = list(Execution.objects.filter(status=ExecutionStatus.SKIPPED).values_list("reason", flat=True))
    assert all("is still running" in reason for reason in skipped) and len(skipped) <= len(alerts)
    assert not Execution.objects.exclude(status__in=[ExecutionStatus.OK, ExecutionStatus.SKIPPED]).exists()
    print(f"FAULT-5 figures: backends terminated {terminated}, ticks {len(ticks)}, "
          f"executions {Execution.objects.count()} (expected {2 * len(ticks)}), duplicates 0, "
          f"skipped {len(skipped)}, in-flight runs ended (status, attempts) {crashed}, first tick after the loss fired "
          f"{(first_after.fired_at - lost_at).total_seconds():.1f}s later")
