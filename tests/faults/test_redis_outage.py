"""Fault 4: the broker (a private redis-server of the test's own, not the machine's) stops for
60 s and comes back on the same port, empty (no persistence: whatever was queued is lost)."""

import json
import time
from datetime import UTC, datetime

import pytest

from alerts.models import Execution, ExecutionStatus, Notification, NotificationStatus
from schedules.models import FiredTick, Schedule
from tests.factories import LEVEL_QUERY
from tests.faults.conftest import beat_args, check_books, settle, worker_args
from tests.ops_processes import http_get, process_env, start_web, wait_until

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.processes, pytest.mark.needs_postgres]

OUTAGE = 60  # seconds Redis is down


def test_redis_down_60s_processes_reconnect_missed_ticks_are_recorded_and_readiness_reports_it(
        tmp_path, redis_server, processes, sqlite_db, make_datasource, make_alert, sink, hook):
    url, set_knob = sqlite_db
    set_knob("level", 9)
    every10 = Schedule.objects.for_timing(interval_seconds=10)
    datasource = make_datasource(url)
    alerts = [make_alert(datasource, LEVEL_QUERY, schedule=every10, channels=[hook]) for _ in range(2)]
    env = process_env(tmp_path, redis_server.url, SENTINEL_BEAT_LEASE_SECONDS=3)
    worker_log = tmp_path / "worker.log"
    processes(worker_args("w1", "--pool=threads", "-c", "4"), env, worker_log)
    processes(beat_args(tmp_path, "beat-a"), env, tmp_path / "beat-a.log")
    processes(beat_args(tmp_path, "beat-b"), env, tmp_path / "beat-b.log")
    readyz = start_web(processes, env, tmp_path / "web.log", workers=1) + "/readyz"  # every check
    wait_until(lambda: http_get(readyz)[0] == 200, 30, "/readyz to be 200 before the fault", log=tmp_path / "web.log")

    def quiet():  # nothing in flight: the fault hits between ticks, not a half-sent fan-out
        return (Notification.objects.filter(status=NotificationStatus.SENT).count() == len(alerts)
                and not Execution.objects.filter(status=ExecutionStatus.RUNNING).exists())
    wait_until(quiet, 40, "the alerts to fire and be delivered before the fault", interval=0.3, log=worker_log)
    last_before = FiredTick.objects.filter(schedule=every10).order_by("-tick").first()

    redis_server.stop()
    stopped_at = time.monotonic()
    set_knob("level", 2)  # recovers during the outage: a resolved is owed after it
    def not_ready():
        answer = http_get(readyz)
        return answer if answer[0] == 503 else None
    _, body = wait_until(not_ready, 10, "/readyz to report the outage")
    reported = time.monotonic() - stopped_at
    report = json.loads(body)
    assert report["status"] == "fail" and report["checks"]["database"]["ok"] is True
    assert report["checks"]["broker"]["ok"] is False and "Connection" in report["checks"]["broker"]["detail"]
    assert report["checks"]["workers"]["detail"] == "not asked: the broker is unreachable"
    answers = set()
    while time.monotonic() - stopped_at < OUTAGE:  # the fault itself: Redis stays down this long
        answers.add(http_get(readyz)[0])
        time.sleep(1)
    assert answers == {503}, f"/readyz answered {answers} during the outage"
    redis_server.start()
    back_at, restarted = datetime.now(UTC), time.monotonic()

    # Ready again once the broker answers and a worker, reconnected by itself, answers a ping.
    wait_until(lambda: http_get(readyz)[0] == 200, 60, "/readyz to be 200 after the outage", interval=0.3,
               log=worker_log)
    ready_after = time.monotonic() - restarted
    wait_until(lambda: FiredTick.objects.filter(schedule=every10, fired_at__gt=back_at).count() >= 2, 60,
               "two ticks after Redis came back", interval=0.5, log=worker_log)
    first = FiredTick.objects.filter(schedule=every10, fired_at__gt=back_at).order_by("tick").first()
    until = settle(every10, alerts, log=worker_log)
    books = check_books(every10, alerts, until, sink)

    # The outage's ticks were never fanned out: each is counted in the gap of the first tick after it.
    assert first.missed_count >= OUTAGE // 10 - 1
    outage_ticks = [t for t in books.window if last_before.tick < t < first.tick]
    assert len(outage_ticks) == first.missed_count
    assert books.events == {"firing": len(alerts), "resolved": len(alerts)}
    print(f"FAULT-4 figures: Redis down {restarted - stopped_at:.0f}s; {books}; /readyz 503 (broker) "
          f"{reported:.1f}s after Redis stopped, 200 again {ready_after:.1f}s after it came back; first tick "
          f"{(first.fired_at - back_at).total_seconds():.1f}s after Redis came back, "
          f"with {first.missed_count} tick(s) recorded missed before it")
