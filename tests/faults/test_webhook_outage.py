"""Fault 7: the webhook endpoint answers 500 for 2 minutes, then 200.

The worker retries on a 1 s base and an 8 s cap (production: 30 s and 480 s, 6 attempts), so
a delivery is tried about every 8 s during the outage and lands within seconds after it,
instead of the test waiting out production back-offs of several minutes."""

import time
from collections import Counter
from datetime import UTC, datetime

import pytest

from alerts.models import DeliveryAttempt, Notification, NotificationStatus
from schedules.models import Schedule
from tests.factories import LEVEL_QUERY
from tests.faults.conftest import beat_args, check_books, settle, worker_args
from tests.ops_processes import process_env, wait_until

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.processes, pytest.mark.needs_postgres]

OUTAGE = 120  # seconds the endpoint answers 500
BACKOFF = dict(SENTINEL_DELIVERY_BACKOFF_BASE=1, SENTINEL_DELIVERY_BACKOFF_MAX=8, SENTINEL_DELIVERY_MAX_ATTEMPTS=40)


def test_webhook_500_for_2_minutes_then_every_notification_is_delivered_once(
        tmp_path, redis_server, processes, sqlite_db, make_datasource, make_alert, sink, hook):
    url, set_knob = sqlite_db
    set_knob("level", 9)
    sink.status = 500
    every10 = Schedule.objects.for_timing(interval_seconds=10)
    alert = make_alert(make_datasource(url), LEVEL_QUERY, schedule=every10, channels=[hook])
    env = process_env(tmp_path, redis_server.url, SENTINEL_BEAT_LEASE_SECONDS=3, **BACKOFF)
    processes(worker_args("w1", "--pool=threads", "-c", "4"), env, tmp_path / "worker.log")
    processes(beat_args(tmp_path, "beat"), env, tmp_path / "beat.log")

    wait_until(lambda: sink.requests, 40, "the first (failing) delivery attempt", interval=0.2,
               log=tmp_path / "worker.log")
    outage_started = time.monotonic()
    set_knob("level", 2)  # the problem ends during the outage: a resolved is owed as well
    wait_until(lambda: Notification.objects.filter(event="resolved").exists(), 30, "the resolved notification",
               interval=0.5, log=tmp_path / "worker.log")
    time.sleep(max(0.0, OUTAGE - (time.monotonic() - outage_started)))  # the fault: the endpoint keeps failing
    assert sink.delivered() == Counter()
    sink.status = 200
    recovered_at, failing = datetime.now(UTC), time.monotonic() - outage_started

    wait_until(lambda: Notification.objects.filter(status=NotificationStatus.SENT).count() == 2, 20,
               "both notifications delivered after recovery", interval=0.2, log=tmp_path / "worker.log")
    until = settle(every10, [alert], log=tmp_path / "worker.log")
    books = check_books(every10, [alert], until, sink)
    notifications = list(Notification.objects.order_by("created_at"))
    assert [n.event for n in notifications] == ["firing", "resolved"]
    assert sorted(sink.events()) == ["firing", "resolved"]
    assert set(sink.delivered().values()) == {1}, "each idempotency key answered 200 exactly once"
    requests_per_key = Counter(key for key, _, _ in sink.requests)
    for n in notifications:
        recorded = DeliveryAttempt.objects.filter(notification=n).count()
        assert recorded == n.attempts >= 2, "every failed attempt is recorded"
        assert DeliveryAttempt.objects.filter(notification=n, ok=True).count() == 1
        assert set(DeliveryAttempt.objects.filter(notification=n, ok=False).values_list("status_code", flat=True)) == {500}
    assert sum(requests_per_key.values()) == DeliveryAttempt.objects.count()
    assert books.events == {"firing": 1, "resolved": 1}
    last_sent = max(n.sent_at for n in notifications)
    print(f"FAULT-7 figures: endpoint failing {failing:.0f}s; {books}; attempts per notification "
          f"{[n.attempts for n in notifications]} (failed {sum(1 for r in sink.requests if r[2] >= 500)}); "
          f"both delivered {(last_sent - recovered_at).total_seconds():.1f}s after the endpoint recovered")
