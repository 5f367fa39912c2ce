"""`sentinel healthcheck` tells whether a worker is alive on the embedded broker too: each worker
writes a heartbeat to Sentinel's database, so no broker broadcast (which SQLAlchemy has not) is needed."""

import json
import signal
import subprocess
import sys

import pytest

from alerts.models import WorkerHeartbeat
from tests.ops_processes import ROOT, process_env, processes, wait_until, worker_args  # noqa: F401  (fixtures)

pytestmark = [pytest.mark.processes, pytest.mark.needs_postgres, pytest.mark.django_db(transaction=True)]

MAX_AGE = 4  # SENTINEL_WORKER_MAX_AGE_SECONDS (production: 60), heartbeats every second


def embedded_env(tmp_path):
    # No REDIS_URL: kombu's SQLAlchemy transport on a SQLite file in the test's own var dir.
    return process_env(tmp_path, "", SENTINEL_WORKER_HEARTBEAT_SECONDS=1, SENTINEL_WORKER_MAX_AGE_SECONDS=MAX_AGE)


def healthcheck(env) -> tuple[int, dict]:
    result = subprocess.run([sys.executable, "manage.py", "sentinel", "healthcheck", "--checks", "broker,workers"],
                            env=env, cwd=ROOT, capture_output=True, text=True, timeout=60)
    return result.returncode, json.loads(result.stdout)["checks"]


def start_worker(processes, tmp_path, env):
    worker = processes(worker_args("live", "--pool=threads", "-c", "1"), env, tmp_path / "worker.log")
    wait_until(lambda: "ready." in worker.output(), 30, "the worker to be ready", log=worker.log)
    assert "sqla+sqlite:///" in worker.output()  # really the embedded broker
    return worker


def alive(env) -> bool:
    code, checks = healthcheck(env)
    return code == 0 and any(name.startswith("live@") for name in checks["workers"]["data"]["answered"])


def test_healthcheck_sees_the_worker_while_it_runs_and_not_once_it_stopped(tmp_path, processes):
    env = embedded_env(tmp_path)
    code, checks = healthcheck(env)
    assert code == 1 and checks["workers"]["detail"].startswith("no worker heartbeat in the last 4 s")

    worker = start_worker(processes, tmp_path, env)
    wait_until(lambda: alive(env), 20, "healthcheck to see the worker", log=worker.log)
    _, checks = healthcheck(env)
    assert checks["broker"]["ok"] is True
    assert checks["workers"]["data"]["queues"][checks["workers"]["data"]["answered"][0]] == [
        "alerts", "backtests", "notifications", "schedules"]

    worker.signal(signal.SIGTERM)
    assert worker.wait(30) == 0
    # A clean stop takes its heartbeat along: not alive at once, no waiting out the max age.
    code, checks = healthcheck(env)
    assert code == 1 and checks["workers"]["ok"] is False and checks["workers"]["data"]["answered"] == []


def test_a_killed_worker_stops_counting_once_its_heartbeat_is_older_than_the_max_age(tmp_path, processes):
    env = embedded_env(tmp_path)
    worker = start_worker(processes, tmp_path, env)
    wait_until(lambda: alive(env), 20, "healthcheck to see the worker", log=worker.log)

    worker.kill_group()  # SIGKILL: nothing gets to say goodbye
    assert WorkerHeartbeat.objects.filter(name__startswith="live@").exists()  # only its age can tell

    wait_until(lambda: not alive(env), MAX_AGE + 15, "healthcheck to stop seeing the killed worker", interval=0.5)
    code, checks = healthcheck(env)
    assert code == 1 and checks["workers"]["detail"].startswith("no worker heartbeat in the last 4 s")
