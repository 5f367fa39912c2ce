"""SIGTERM to a worker finishes its running alert (warm shutdown) and loses nothing; SIGTERM stops beat cleanly."""

import json
import signal
import subprocess
import sys
from datetime import datetime, timezone as tz

import pytest
import redis
from celery import Celery

from alerts.models import Execution, ExecutionStatus
from tests.ops_processes import BIN, ROOT, process_env, processes, redis_server, wait_until  # noqa: F401

pytestmark = [pytest.mark.processes, pytest.mark.needs_postgres, pytest.mark.django_db(transaction=True)]

TICK = datetime(2026, 11, 24, 10, 0, tzinfo=tz.utc)


def start_worker(processes, tmp_path, redis_url):
    log = tmp_path / "worker.log"
    worker = processes(
        [str(BIN / "celery"), "-A", "sentinel_project", "worker", "-c", "1", "-Q", "schedules,alerts,notifications,backtests",
         "--hostname", "shutdown-test@%h", "--without-gossip", "--without-mingle", "-l", "INFO"],
        process_env(tmp_path, redis_url), log)
    wait_until(lambda: "ready." in worker.output(), 30, "the worker to be ready", log=log)
    return worker


def test_sigterm_lets_the_running_pg_sleep_alert_finish_and_loses_nothing(
        tmp_path, redis_server, processes, pg_datasource_url, make_datasource, make_alert):
    alert = make_alert(make_datasource(pg_datasource_url), "SELECT 'OK' AS status FROM pg_sleep(3)", name="sleepy")
    worker = start_worker(processes, tmp_path, redis_server.url)

    # While the worker is up, readiness (minus beat, which this test does not run) is green.
    check = subprocess.run(
        [sys.executable, "manage.py", "sentinel", "healthcheck", "--checks", "database,broker,workers,queues"],
        env=process_env(tmp_path, redis_server.url), cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert check.returncode == 0, check.stdout + check.stderr
    report = json.loads(check.stdout)
    assert any(name.startswith("shutdown-test@") for name in report["checks"]["workers"]["data"]["answered"])

    sender = Celery(broker=redis_server.url, set_as_current=False)
    sender.send_task("alerts.run_alert", args=[alert.pk, TICK.isoformat()], queue="alerts")
    sender.close()
    wait_until(lambda: Execution.objects.filter(alert=alert, status=ExecutionStatus.RUNNING).exists(), 20,
               "the execution to start", log=worker.log)

    worker.signal(signal.SIGTERM)

    assert worker.wait(30) == 0
    execution = Execution.objects.get(alert=alert)
    assert execution.status == ExecutionStatus.OK, execution.error
    assert execution.duration_ms >= 2900
    assert "warm shutdown" in worker.output().lower()
    client = redis.Redis.from_url(redis_server.url)
    assert client.llen("alerts") == 0
    assert client.hlen("unacked") == 0  # acknowledged after it ran: nothing left to redeliver


def test_sigterm_stops_beat_cleanly(tmp_path, redis_server, processes):
    log = tmp_path / "beat.log"
    beat = processes(
        [str(BIN / "celery"), "-A", "sentinel_project", "beat", "-S",
         "django_celery_beat.schedulers:DatabaseScheduler", "-l", "DEBUG", "--pidfile", str(tmp_path / "beat.pid")],
        process_env(tmp_path, redis_server.url), log)
    # "Waking up" is logged once the loop has read the database schedule, right before it sleeps.
    wait_until(lambda: "beat: Waking up" in beat.output(), 30, "beat to run its loop", log=log)

    beat.signal(signal.SIGTERM)

    assert beat.wait(15) == 0
    assert "Traceback" not in beat.output()
    assert not (tmp_path / "beat.pid").exists()
