"""gunicorn (several worker processes) serves /healthz, /readyz and /metrics; readiness follows Redis."""

import json
from datetime import timedelta

import pytest
from django.utils import timezone

from alerts.models import Execution, ExecutionStatus, Trigger
from tests.ops_processes import http_get as get
from tests.ops_processes import (  # noqa: F401  (fixtures)
    process_env, processes, redis_server, start_web, wait_until,
)

pytestmark = [pytest.mark.processes, pytest.mark.needs_postgres, pytest.mark.django_db(transaction=True)]

TOKEN = "metrics-token-for-tests"


@pytest.fixture
def web(tmp_path, redis_server, processes):
    env = process_env(tmp_path, redis_server.url, SENTINEL_METRICS_TOKEN=TOKEN, ALLOWED_HOSTS="sentinel.example.com")
    log = tmp_path / "gunicorn.log"
    return start_web(processes, env, log), redis_server, log


def test_healthz_answers_by_ip_even_when_allowed_hosts_would_refuse_it(web):
    base, _, _ = web

    assert get(f"{base}/healthz") == (200, '{"status": "ok"}')
    assert get(f"{base}/admin/login/")[0] == 400  # the Host check still guards everything else


def test_readyz_turns_503_when_redis_stops_and_200_when_it_is_back(web):
    base, redis_server, log = web
    url = f"{base}/readyz?checks=database,broker,queues"

    status, body = get(url)
    assert status == 200, body
    report = json.loads(body)
    assert report["checks"]["database"]["ok"] is True and report["checks"]["broker"]["ok"] is True
    assert set(report["checks"]["queues"]["data"]["queues"]) == {"schedules", "alerts", "notifications", "backtests"}

    redis_server.stop()
    status, body = get(url)
    assert status == 503, body
    report = json.loads(body)
    assert report["status"] == "fail"
    assert report["checks"]["broker"]["ok"] is False and "Connection" in report["checks"]["broker"]["detail"]
    assert report["checks"]["database"]["ok"] is True

    redis_server.start()
    wait_until(lambda: get(url)[0] == 200, 15, "/readyz to be 200 again", log=log)


def test_metrics_need_the_token_and_agree_across_gunicorn_processes(web, sqlite_db, make_datasource, make_alert):
    base, _, _ = web
    alert = make_alert(make_datasource(sqlite_db[0]), "SELECT 'OK' AS status")
    now = timezone.now()
    for minute, status in enumerate([ExecutionStatus.OK, ExecutionStatus.OK, ExecutionStatus.ERROR]):
        tick = now - timedelta(minutes=minute + 1)
        Execution.objects.create(alert=alert, scheduled_for=tick, trigger=Trigger.SCHEDULE, status=status,
                                 started_at=tick + timedelta(seconds=2), finished_at=now, duration_ms=1500)

    assert get(f"{base}/metrics")[0] == 401
    assert get(f"{base}/metrics", token="wrong")[0] == 401
    # Two gunicorn processes answer in turn; the database gives both the same numbers.
    bodies = {get(f"{base}/metrics", token=TOKEN)[1] for _ in range(6)}
    lines = [
        'sentinel_recent_executions{status="OK"} 2.0',
        'sentinel_recent_executions{status="ERROR"} 1.0',
        'sentinel_recent_execution_duration_seconds_bucket{le="2.5"} 3.0',
        'sentinel_recent_fire_lag_seconds_bucket{le="1.0"} 0.0',
        'sentinel_recent_fire_lag_seconds_bucket{le="2.0"} 3.0',
        'sentinel_alerts{state="OK"} 1.0',
        'sentinel_queue_depth{queue="alerts"} 0.0',
        "sentinel_broker_up 1.0",
    ]
    for body in bodies:
        for line in lines:
            assert line in body, f"{line!r} not in:\n{body}"
