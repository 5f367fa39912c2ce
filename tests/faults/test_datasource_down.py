"""Fault 6: the datasource is unreachable (a closed port), then back."""

from datetime import UTC, datetime

import pytest

from alerts.models import (
    Channel,
    Execution,
    ExecutionStatus,
    Notification,
    NotificationStatus,
)
from schedules.models import FiredTick, Schedule
from tests.faults.conftest import (
    DATASOURCE_PASSWORD,
    WEBHOOK_TOKEN,
    beat_args,
    duplicate_runs,
    worker_args,
)
from tests.ops_processes import free_port, process_env, wait_until

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.processes, pytest.mark.needs_postgres]

DS = "postgresql+psycopg2://postgres:${FAULTS_DS_PASSWORD}@127.0.0.1:%d/test"


def test_datasource_down_then_back_sends_one_error_then_one_resolved(
        tmp_path, redis_server, processes, make_datasource, make_alert, sink, secret_env):
    every10 = Schedule.objects.for_timing(interval_seconds=10)
    datasource = make_datasource(DS % free_port(), timeout_seconds=5)  # nothing listens there
    hook = Channel.objects.create(name="hook", kind="webhook",
                                  config={"url": sink.url + "/hook?token=${FAULTS_HOOK_TOKEN}"})
    alert = make_alert(datasource, "SELECT 'OK' AS status, 1 AS actual_value", schedule=every10, channels=[hook])
    env = process_env(tmp_path, redis_server.url, SENTINEL_BEAT_LEASE_SECONDS=3)
    processes(worker_args("w1", "--pool=threads", "-c", "4"), env, tmp_path / "worker.log")
    processes(beat_args(tmp_path, "beat"), env, tmp_path / "beat.log")

    wait_until(lambda: Execution.objects.filter(alert=alert, status=ExecutionStatus.ERROR).count() >= 3, 50,
               "three failed runs against the closed port", interval=0.5, log=tmp_path / "worker.log")
    wait_until(lambda: sink.events() == ["error"], 15, "the error notification at the sink")
    failed = Execution.objects.filter(alert=alert, status=ExecutionStatus.ERROR).first()
    assert failed.error and DATASOURCE_PASSWORD not in failed.error

    datasource.url = DS % 5432  # the datasource comes back
    datasource.save()
    back_at = datetime.now(UTC)
    wait_until(lambda: Execution.objects.filter(alert=alert, status=ExecutionStatus.OK).exists(), 25,
               "a successful run after recovery", interval=0.5, log=tmp_path / "worker.log")
    recovered = Execution.objects.filter(alert=alert, status=ExecutionStatus.OK).order_by("scheduled_for").first()
    wait_until(lambda: sink.events() == ["error", "resolved"], 15, "the resolved notification at the sink")
    # One more tick: still OK, and nothing more is sent.
    wait_until(lambda: Execution.objects.filter(alert=alert, status=ExecutionStatus.OK).count() >= 2, 25,
               "a second successful run", interval=0.5)

    ticks = set(FiredTick.objects.filter(schedule=every10).values_list("tick", flat=True))
    wait_until(lambda: not Execution.objects.filter(status=ExecutionStatus.RUNNING).exists(), 10, "runs to finish")
    runs = set(Execution.objects.filter(alert=alert).values_list("scheduled_for", flat=True))
    assert ticks - runs <= {max(ticks)}  # the newest tick may still be on its way to the worker
    assert runs <= ticks and not duplicate_runs()
    assert sink.events() == ["error", "resolved"]
    assert set(sink.delivered().values()) == {1}
    assert set(Notification.objects.values_list("status", flat=True)) == {NotificationStatus.SENT}
    assert all(WEBHOOK_TOKEN not in (n.last_error or "") for n in Notification.objects.all())
    print(f"FAULT-6 figures: ticks {len(ticks)}, executions {len(runs)}, "
          f"errors {Execution.objects.filter(status=ExecutionStatus.ERROR).count()}, "
          f"deliveries {sum(sink.delivered().values())} ({sink.events()}), duplicates 0, "
          f"first OK run {(recovered.started_at - back_at).total_seconds():.1f}s after the datasource came back")
