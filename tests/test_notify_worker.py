"""A real celery worker delivers through Redis: retries with backoff, one success, duplicates harmless."""

import pytest
from celery import Celery

from alerts.models import DeliveryAttempt, Notification, NotificationStatus
from tests.notify_peers import http_receiver, make_notification  # noqa: F401  (fixtures)
from tests.ops_processes import BIN, process_env, processes, redis_server, wait_until  # noqa: F401

pytestmark = [pytest.mark.processes, pytest.mark.needs_postgres, pytest.mark.django_db(transaction=True)]


def test_worker_retries_a_500_and_delivers_once_even_when_the_task_arrives_twice(
        tmp_path, redis_server, processes, http_receiver, make_notification):
    http_receiver.answer(500, 500)
    notification = make_notification("webhook", {"url": http_receiver.url + "/hook"})
    log = tmp_path / "worker.log"
    worker = processes(
        [str(BIN / "celery"), "-A", "sentinel_project", "worker", "-c", "2", "-Q", "notifications",
         "--hostname", "notify-test@%h", "--without-gossip", "--without-mingle", "-l", "INFO"],
        process_env(tmp_path, redis_server.url, SENTINEL_DELIVERY_BACKOFF_BASE=1, SENTINEL_DELIVERY_BACKOFF_MAX=2),
        log)
    wait_until(lambda: "ready." in worker.output(), 30, "the worker to be ready", log=log)

    sender = Celery(broker=redis_server.url, set_as_current=False)
    for _ in range(2):  # a duplicated task message, as a broker redelivery would make
        sender.send_task("alerts.deliver", args=[notification.pk], queue="notifications")

    def delivered():
        notification.refresh_from_db()
        return notification.status == NotificationStatus.SENT

    wait_until(delivered, 30, "the notification to be sent", log=log)
    attempts = list(DeliveryAttempt.objects.filter(notification=notification).values_list("ok", "status_code"))
    assert attempts == [(False, 500), (False, 500), (True, 200)]
    assert len(http_receiver.requests) == 3
    assert len({r.headers["Idempotency-Key"] for r in http_receiver.requests}) == 1
    assert Notification.objects.get(pk=notification.pk).attempts == 3
