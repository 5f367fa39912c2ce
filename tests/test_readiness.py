"""/readyz and `sentinel healthcheck`: each check says what is wrong, and the answer comes fast."""

import json
import time
from datetime import timedelta

import pytest
import redis
from celery import Celery
from django.test import override_settings
from django.utils import timezone

from alerts.models import WorkerHeartbeat

from sentinel_project import broker, health
from tests.factories import sentinel

pytestmark = pytest.mark.django_db

DEAD_BROKER = "redis://:hunter2-broker@127.0.0.1:1/0"


def test_healthz_touches_nothing(client):
    with override_settings(CELERY_BROKER_URL=DEAD_BROKER):
        response = client.get("/healthz")
    assert response.status_code == 200 and response.json() == {"status": "ok"}


def test_readyz_with_an_unreachable_broker_is_503_fast_and_keeps_its_password(client):
    started = time.monotonic()
    with override_settings(CELERY_BROKER_URL=DEAD_BROKER):
        response = client.get("/readyz?checks=database,broker,workers,queues")
    elapsed = time.monotonic() - started

    assert response.status_code == 503
    checks = response.json()["checks"]
    assert checks["database"]["ok"] is True
    assert checks["broker"]["ok"] is False and "refused" in checks["broker"]["detail"].lower()
    assert checks["workers"] == {"ok": False, "detail": "not asked: the broker is unreachable", "data": {}}
    assert "hunter2-broker" not in response.content.decode()
    assert elapsed < health.DEADLINE_SECONDS + 1


def test_readyz_names_an_unknown_check(client):
    response = client.get("/readyz?checks=database,wizards")

    assert response.status_code == 400
    assert "wizards" in response.json()["error"]


@pytest.mark.parametrize("age, ok, detail", [
    (12.0, True, ""),
    (900.0, False, "the last beat heartbeat is 900 s old (limit 180 s)"),
    (None, False, "no beat heartbeat recorded: is `celery beat` running?"),
])
def test_beat_check_compares_the_heartbeat_age_with_its_limit(monkeypatch, age, ok, detail):
    # The heartbeat itself is beat's (schedules.leader); here only the comparison is under test.
    monkeypatch.setattr(health, "beat_heartbeat_age", lambda: age)

    with override_settings(SENTINEL_BEAT_MAX_AGE_SECONDS=180):
        check = health.check_beat()

    assert (check.ok, check.detail) == (ok, detail)


def heartbeat(name, queues, age_seconds):
    WorkerHeartbeat.objects.create(name=name, queues=queues, last_seen=timezone.now() - timedelta(seconds=age_seconds))


@pytest.mark.django_db(transaction=True)  # the check closes its connection, as in its own thread
def test_workers_are_alive_while_their_heartbeats_are_fresh_and_cover_every_queue():
    heartbeat("fanout@a", ["schedules"], 5)
    heartbeat("runner@b", ["alerts", "notifications", "backtests"], 20)
    heartbeat("gone@c", ["alerts"], 600)

    with override_settings(SENTINEL_WORKER_MAX_AGE_SECONDS=60):
        check = health.check_workers()

    assert check.ok is True and check.data["answered"] == ["fanout@a", "runner@b"]


@pytest.mark.django_db(transaction=True)
def test_a_queue_no_live_worker_consumes_fails_the_workers_check_by_name():
    heartbeat("runner@b", ["alerts", "backtests"], 5)
    heartbeat("gone@c", ["notifications", "schedules"], 600)

    with override_settings(SENTINEL_WORKER_MAX_AGE_SECONDS=60):
        check = health.check_workers()

    assert check.ok is False
    assert check.detail == ("no live worker consumes queue notifications, schedules: start a worker without -Q, "
                            "or with -Q naming it")


@pytest.mark.django_db(transaction=True)
def test_no_fresh_heartbeat_fails_the_workers_check():
    heartbeat("gone@c", ["alerts", "notifications", "schedules"], 600)

    with override_settings(SENTINEL_WORKER_MAX_AGE_SECONDS=60):
        check = health.check_workers()

    assert (check.ok, check.detail) == (
        False, "no worker heartbeat in the last 60 s: is `celery -A sentinel_project worker` running?")


@pytest.mark.needs_redis
def test_a_message_waiting_too_long_fails_the_queue_check(settings):
    settings.CELERY_BROKER_URL = settings.TEST_REDIS_URL
    client = redis.Redis.from_url(settings.TEST_REDIS_URL)
    client.delete(*broker.queue_names())
    sender = Celery(broker=settings.TEST_REDIS_URL, set_as_current=False)
    try:
        sender.send_task("alerts.deliver", args=[1], queue="notifications",
                         headers={"sentinel_sent_at": time.time() - 600})
        sender.send_task("alerts.deliver", args=[2], queue="notifications")

        check = health.check_queues()

        assert check.ok is False
        assert check.data["queues"]["notifications"]["depth"] == 2
        assert 599 <= check.data["queues"]["notifications"]["oldest_age_seconds"] < 700
        assert check.detail.startswith("queue notifications: oldest message waits 60")
    finally:
        client.delete(*broker.queue_names())
        sender.close()


@pytest.mark.needs_redis
def test_a_sent_task_carries_the_sent_at_stamp(settings):
    client = redis.Redis.from_url(settings.TEST_REDIS_URL)
    client.delete("alerts")
    sender = Celery(broker=settings.TEST_REDIS_URL, set_as_current=False)
    try:
        before = time.time()
        sender.send_task("alerts.run_alert", args=[1, "2026-11-24T10:00:00+00:00"], queue="alerts")
        stamp = broker.message_sent_at(client.lindex("alerts", -1))
        assert stamp is not None and before - 1 <= stamp <= time.time() + 1
    finally:
        client.delete("alerts")
        sender.close()


def test_healthcheck_prints_the_report_and_exits_1_when_unhealthy():
    with override_settings(CELERY_BROKER_URL=DEAD_BROKER):
        code, out = sentinel("healthcheck", "--checks", "database,broker")

    assert code == 1
    report = json.loads(out)
    assert report["status"] == "fail" and report["checks"]["database"]["ok"] is True


def test_healthcheck_exits_0_when_the_checked_parts_are_healthy():
    code, out = sentinel("healthcheck", "--checks", "database")

    assert code == 0 and json.loads(out)["status"] == "ok"


def test_healthcheck_with_an_unknown_check_is_a_usage_error():
    with pytest.raises(Exception) as raised:
        sentinel("healthcheck", "--checks", "nope")
    assert getattr(raised.value, "returncode", None) == 2 and "nope" in str(raised.value)
