"""Work is enqueued only once the rows it names are committed, by task name, on the queue
the settings route that name to, with its countdown: what a worker started with -Q sees."""

from datetime import datetime, timezone as tz

import pytest
from celery import current_app
from django.db import transaction

from alerts import dispatch

pytestmark = pytest.mark.django_db(transaction=True)

TICK = datetime(2026, 11, 24, 9, 0, tzinfo=tz.utc)


@pytest.fixture
def broker(monkeypatch):
    """The tests' in-memory broker, really published to (not run in place); read back per queue."""
    monkeypatch.setattr(current_app.conf, "task_always_eager", False)
    connection = current_app.connection_for_read()

    def waiting(queue: str) -> list:
        box = connection.SimpleQueue(queue)
        messages = []
        while True:
            try:
                message = box.get(block=False)
            except box.Empty:
                return messages
            message.ack()
            messages.append(message)

    for queue in ("schedules", "alerts", "notifications", "backtests"):
        waiting(queue)  # left by another test
    yield waiting
    connection.release()


def test_a_delivery_waits_for_the_commit_and_goes_to_the_notifications_queue(broker):
    with transaction.atomic():
        dispatch.deliver([41, 42])
        assert broker("notifications") == []  # the worker would not find the rows yet

    sent = broker("notifications")
    assert [(m.headers["task"], m.payload[0]) for m in sent] == [("alerts.deliver", [41]), ("alerts.deliver", [42])]
    assert broker("alerts") == []


def test_runs_busy_under_another_lease_are_sent_again_with_their_countdown(broker):
    before = datetime.now(tz.utc)

    dispatch.run_alerts([[7, 8]], TICK, countdown=30)

    [message] = broker("alerts")
    assert message.headers["task"] == "alerts.run_alerts"
    assert message.payload[0] == [[7, 8], TICK.isoformat()]
    eta = datetime.fromisoformat(message.headers["eta"])
    assert 29 <= (eta - before).total_seconds() <= 60


def test_a_backtest_goes_to_its_own_queue_never_in_front_of_a_tick_s_runs(broker):
    with transaction.atomic():
        dispatch.run_backtest(7)
        assert broker("backtests") == []

    [message] = broker("backtests")
    assert (message.headers["task"], message.payload[0]) == ("alerts.run_backtest", [7])
    assert broker("alerts") == []


def test_an_empty_batch_sends_nothing(broker):
    dispatch.run_alerts([[]], TICK)
    dispatch.deliver([])

    assert broker("alerts") == [] and broker("notifications") == []


def test_beat_s_task_name_is_still_served_on_the_schedules_queue(broker):
    # Beat's entries and messages queued before the move carry "schedules.fire_schedule".
    current_app.signature("schedules.fire_schedule").apply_async((1,))

    [message] = broker("schedules")
    assert message.headers["task"] == "schedules.fire_schedule"
    assert current_app.tasks[message.headers["task"]].__module__ == "alerts.tasks"
