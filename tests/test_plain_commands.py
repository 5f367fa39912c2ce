"""`celery -A sentinel_project worker` and `celery -A sentinel_project beat`, with no flag that picks
queues (-Q) or a scheduler (-S), run everything: every alert once per tick, one webhook per firing
alert. `-Q` still splits the work: a worker started with `-Q alerts` leaves notifications queued.

Every other real-process test starts these same plain commands (tests/ops_processes.py)."""

import json
import subprocess
import sys
from collections import Counter
from datetime import datetime, timedelta, timezone as tz

import pytest
import redis
from celery import Celery
from django.db.models import Count

from alerts.models import Channel, Execution, ExecutionStatus, Notification, NotificationStatus
from schedules.models import FiredTick, Schedule
from tests.factories import LEVEL_QUERY
from tests.notify_peers import http_receiver, make_notification  # noqa: F401  (fixtures)
from tests.ops_processes import (  # noqa: F401  (fixtures)
    CELERY, ROOT, beat_args, process_env, processes, redis_server, wait_until, worker_args,
)

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.processes, pytest.mark.needs_redis,
              pytest.mark.needs_postgres]

ALERTS = 30
TICKS = 3


def test_a_plain_worker_and_two_plain_beats_run_every_alert_once_per_tick_and_send_one_webhook_each(
        tmp_path, redis_server, processes, http_receiver, sqlite_db, make_datasource, make_alert):
    url, set_knob = sqlite_db
    set_knob("level", 9)  # firing from the first tick on
    hook = Channel.objects.create(name="hook", kind="webhook", config={"url": http_receiver.url + "/hook"})
    every10 = Schedule.objects.for_timing(interval_seconds=10)
    datasource = make_datasource(url)
    # A wide grace: on a loaded box a run may start more than half a period late (MISSED); the promise
    # here is once per tick and one webhook each, not how late.
    alerts = [make_alert(datasource, LEVEL_QUERY, schedule=every10, channels=[hook], grace=timedelta(seconds=30))
              for _ in range(ALERTS)]
    env = process_env(tmp_path, redis_server.url)
    worker = processes(worker_args("plain"), env, tmp_path / "worker.log")
    beats = [processes(beat_args(tmp_path, name), env, tmp_path / f"{name}.log") for name in ("beat-a", "beat-b")]
    assert not {"-Q", "--queues", "-S", "--scheduler"} & set(worker.args + beats[0].args + beats[1].args)

    wait_until(lambda: FiredTick.objects.filter(schedule=every10).count() >= TICKS, 70, f"{TICKS} ticks to fire",
               interval=0.5, log=worker.log)
    until = FiredTick.objects.filter(schedule=every10).order_by("-tick").values_list("tick", flat=True).first()
    runs = Execution.objects.filter(alert__in=alerts, scheduled_for__lte=until)

    def window_done():
        fired = FiredTick.objects.filter(schedule=every10, tick__lte=until).count()
        return (runs.exclude(status=ExecutionStatus.RUNNING).count() >= fired * ALERTS
                and not Notification.objects.filter(status__in=[NotificationStatus.PENDING,
                                                                NotificationStatus.SENDING]).exists())
    wait_until(window_done, 30, "every run of the window and its webhooks", interval=0.3, log=worker.log)

    fired = list(FiredTick.objects.filter(schedule=every10, tick__lte=until).order_by("tick"))
    assert sum(t.missed_count for t in fired) == 0, "a tick was never fired"
    assert [(b.tick - a.tick).total_seconds() for a, b in zip(fired, fired[1:])] == [10.0] * (len(fired) - 1)
    per_pair = Counter(runs.values_list("alert_id", "scheduled_for"))
    assert set(per_pair) == {(a.pk, t.tick) for a in alerts for t in fired}, "an (alert, tick) never ran"
    assert set(per_pair.values()) == {1}
    assert not Execution.objects.values("alert", "scheduled_for").annotate(n=Count("id")).filter(n__gt=1).exists()
    assert set(runs.values_list("status", flat=True)) == {ExecutionStatus.ALERT}

    # One firing webhook per alert, each delivered once, and nothing more for the later ticks.
    sent = Notification.objects.filter(alert__in=alerts)
    assert sorted(sent.values_list("event", "status").distinct()) == [("firing", NotificationStatus.SENT)]
    assert sent.count() == ALERTS
    bodies = [r.json() for r in http_receiver.requests]
    assert len(bodies) == ALERTS
    assert sorted(b["alert"]["id"] for b in bodies) == sorted(a.pk for a in alerts)
    assert len({r.headers["Idempotency-Key"] for r in http_receiver.requests}) == ALERTS


def healthcheck(env) -> dict:
    result = subprocess.run([sys.executable, "manage.py", "sentinel", "healthcheck", "--checks", "workers"], env=env,
                            cwd=ROOT, capture_output=True, text=True, timeout=60)
    return json.loads(result.stdout)["checks"]["workers"]


def test_a_worker_started_with_q_alerts_leaves_notifications_queued_until_a_notifications_worker_runs(
        tmp_path, redis_server, processes, http_receiver, make_notification, sqlite_db, make_datasource, make_alert):
    notification = make_notification("webhook", {"url": http_receiver.url + "/hook"})
    alert = make_alert(make_datasource(sqlite_db[0]), "SELECT 'OK' AS status")
    env = process_env(tmp_path, redis_server.url)
    alerts_only = processes([CELERY, "-A", "sentinel_project", "worker", "-Q", "alerts", "-n", "alerts-only@%h",
                             "--pool=threads", "-c", "1", "--without-gossip", "--without-mingle", "-l", "INFO"],
                            env, tmp_path / "alerts-worker.log")
    wait_until(lambda: "ready." in alerts_only.output(), 30, "the -Q alerts worker", log=alerts_only.log)

    sender = Celery(broker=redis_server.url, set_as_current=False)
    sender.send_task("alerts.deliver", args=[notification.pk], queue="notifications")
    # Sent after the delivery: once this ran, the worker had its chance at the delivery too.
    sender.send_task("alerts.run_alert", args=[alert.pk, datetime.now(tz.utc).replace(microsecond=0).isoformat()],
                     queue="alerts")
    sender.close()
    wait_until(lambda: Execution.objects.filter(alert=alert, status=ExecutionStatus.OK).exists(), 20,
               "the -Q alerts worker to run the alert", log=alerts_only.log)

    notification.refresh_from_db()
    assert notification.status == NotificationStatus.PENDING and http_receiver.requests == []
    assert redis.Redis.from_url(redis_server.url).llen("notifications") == 1
    # Readiness names the queue nobody consumes.
    workers = healthcheck(env)
    assert workers["ok"] is False and "no live worker consumes queue backtests, notifications, schedules" in workers["detail"]

    notify = processes([CELERY, "-A", "sentinel_project", "worker", "-Q", "notifications,schedules,backtests", "-n", "notify@%h",
                        "--pool=threads", "-c", "1", "--without-gossip", "--without-mingle", "-l", "INFO"],
                       env, tmp_path / "notify-worker.log")
    wait_until(lambda: Notification.objects.filter(pk=notification.pk, status=NotificationStatus.SENT).exists(), 30,
               "the notifications worker to deliver it", log=notify.log)
    assert len(http_receiver.requests) == 1
    assert healthcheck(env)["ok"] is True
