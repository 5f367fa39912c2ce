"""Fault 2: the worker running a query (`pg_sleep`) is SIGKILLed with its pool child, as the
OOM killer would; another worker, up all along, finishes that execution."""

from datetime import UTC, datetime

import pytest

from alerts.models import Execution, ExecutionStatus, Notification
from schedules.models import Schedule
from tests.faults.conftest import beat_args, check_books, pg_sleep_running, settle, worker_args
from tests.ops_processes import process_env, wait_until

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.processes, pytest.mark.needs_postgres]


def test_worker_killed_mid_query_the_other_worker_finishes_the_execution_and_one_notification_goes_out(
        tmp_path, redis_server, processes, make_datasource, make_alert, pg_datasource_url, sink, hook):
    every10 = Schedule.objects.for_timing(interval_seconds=10)
    alert = make_alert(make_datasource(pg_datasource_url, timeout_seconds=10),
                       "SELECT 'ALERT' AS status, 1 AS actual_value FROM pg_sleep(4)",
                       schedule=every10, channels=[hook])
    # Short broker visibility and execution lease, so the takeover comes in seconds, not minutes.
    env = process_env(tmp_path, redis_server.url, SENTINEL_BEAT_LEASE_SECONDS=3, SENTINEL_LEASE_MARGIN_SECONDS=2,
                      CELERY_BROKER_VISIBILITY_TIMEOUT=6, CELERY_BROKER_RESTORE_INTERVAL=1)
    workers = [processes(worker_args(name, "--pool=prefork", "-c", "1"), env, tmp_path / f"{name}.log")
               for name in ("w1", "w2")]
    processes(beat_args(tmp_path, "beat"), env, tmp_path / "beat.log")

    wait_until(lambda: Execution.objects.filter(status=ExecutionStatus.RUNNING).exists(), 60, "a run to start",
               interval=0.2, log=tmp_path / "beat.log")
    execution = Execution.objects.get(status=ExecutionStatus.RUNNING)
    wait_until(lambda: pg_sleep_running(pg_datasource_url), 10, "pg_sleep to be running", interval=0.05)
    pid = int(execution.worker.rsplit(":", 1)[1])
    doomed = next(w for w in workers if pid in w.pids())
    survivor = next(w for w in workers if w is not doomed)
    doomed.kill_group()
    killed_at = datetime.now(UTC)

    wait_until(lambda: Execution.objects.filter(pk=execution.pk).exclude(status=ExecutionStatus.RUNNING).exists(),
               60, "the other worker to finish the execution", interval=0.3, log=survivor.log)
    execution.refresh_from_db()
    assert execution.status == ExecutionStatus.ALERT and execution.attempts == 2
    assert int(execution.worker.rsplit(":", 1)[1]) in survivor.pids()
    finished = (execution.finished_at - killed_at).total_seconds()
    wait_until(lambda: sink.delivered(), 20, "the firing notification at the sink", log=survivor.log)
    # One more tick on the survivor: still firing, nothing more is sent.
    wait_until(lambda: Execution.objects.filter(status=ExecutionStatus.ALERT).count() >= 2, 40,
               "another run on the surviving worker", interval=0.3, log=survivor.log)
    until = settle(every10, [alert], log=survivor.log)
    books = check_books(every10, [alert], until, sink)

    assert books.events == {"firing": 1} and Notification.objects.count() == 1
    # Ticks that came while the killed run still held its lease were SKIPPED (never two runs of
    # one alert at once); ticks whose message waited too long for a free worker were MISSED.
    others = Execution.objects.exclude(pk=execution.pk).exclude(status=ExecutionStatus.ALERT)
    assert all(status in (ExecutionStatus.SKIPPED, ExecutionStatus.MISSED)
               for status in others.values_list("status", flat=True))
    print(f"FAULT-2 figures: {books}; the killed run finished by the other worker {finished:.1f}s after the kill "
          f"(attempts {execution.attempts}), notifications {Notification.objects.count()}")
