"""The one place that enqueues work, always after the caller's transaction commits.

A worker that takes a message before the rows it names are committed finds nothing
(or an old state), so every send goes through `transaction.on_commit`; outside a
transaction that runs at once.

Tasks are sent by name through the Celery app, not by importing alerts/tasks.py:
the tasks call the engine (fan-out, runner, recording, delivery) and the engine
enqueues through here, so importing the tasks would run an arrow back up. Each
name is registered in alerts/tasks.py and routed to its queue by
CELERY_TASK_ROUTES (sentinel_project/settings.py), which is keyed by the same names.
"""

from datetime import datetime

from celery import current_app
from django.db import transaction

RUN_ALERTS = "alerts.run_alerts"
RUN_CLAIMED = "alerts.run_claimed"
DELIVER = "alerts.deliver"
RUN_BACKTEST = "alerts.run_backtest"


def run_alerts(batches: list[list[int]], tick: datetime, *, countdown: float | None = None,
               waiting_since: datetime | None = None) -> None:
    """One run_alerts per batch of alert ids for the tick: the fan-out's batches, or a batch's
    handed-back runs (countdown: a spread batch's offset after the tick, runs busy under another
    worker's lease, or runs that found no free query slot, with `waiting_since` their first try)."""
    extra = (waiting_since.isoformat(),) if waiting_since else ()
    scheduled_for = tick.isoformat()
    _after_commit(RUN_ALERTS, [(ids, scheduled_for, *extra) for ids in batches if ids], countdown=countdown)


def run_claimed(execution_id: int) -> None:
    """The run of an execution claimed already (an API run), for a worker to take."""
    _after_commit(RUN_CLAIMED, [(execution_id,)])


def deliver(notification_ids: list[int], *, countdown: float | None = None) -> None:
    """One deliver per notification (countdown: a retry after its backoff)."""
    _after_commit(DELIVER, [(pk,) for pk in notification_ids], countdown=countdown)


def run_backtest(backtest_id: int) -> None:
    """A backtest for a worker of the "backtests" queue, so it never waits in front of a tick's runs."""
    _after_commit(RUN_BACKTEST, [(backtest_id,)])


def _after_commit(name: str, calls: list[tuple], **options) -> None:
    if calls:
        transaction.on_commit(lambda: _send(name, calls, **options))


def _send(name: str, calls: list[tuple], countdown: float | None = None) -> None:
    """Publish the calls over one broker connection. A signature by name runs through the registered
    task when this process has it (so CELERY_TASK_ALWAYS_EAGER runs it here), else through send_task."""
    app = current_app
    signature = app.signature(name)
    if app.conf.task_always_eager:
        for args in calls:
            signature.apply_async(args, countdown=countdown)
        return
    with app.producer_or_acquire() as producer:
        for args in calls:
            signature.apply_async(args, countdown=countdown, producer=producer)
