"""Thin Celery tasks: load ids, call the plain functions that tests call directly."""

from celery import shared_task
from django.utils.dateparse import parse_datetime

from . import delivery, runner
from .models import Trigger


@shared_task(name="alerts.run_alert", acks_late=True)
def run_alert(alert_id: int, scheduled_for: str) -> None:
    tick = parse_datetime(scheduled_for)
    runner.run_by_id(alert_id, tick, Trigger.SCHEDULE, task_id=run_alert.request.id or "")
    wait = runner.seconds_until_resumable(alert_id, tick)
    if wait is not None:
        # Another worker holds this tick, or held it and died: look again when its lease ends.
        run_alert.apply_async((alert_id, scheduled_for), countdown=wait)


@shared_task(name="alerts.run_claimed", acks_late=True)
def run_claimed(execution_id: int) -> None:
    from .api.running import run_queued

    run_queued(execution_id, task_id=run_claimed.request.id or "")


@shared_task(name="alerts.deliver", acks_late=True)
def deliver(notification_id: int) -> None:
    outcome = delivery.deliver(notification_id)
    if outcome.retry_in is not None:
        deliver.apply_async((notification_id,), countdown=outcome.retry_in)


@shared_task(name="alerts.recover_deliveries")
def recover_deliveries() -> None:
    recovery = delivery.recover_stalled()
    for notification_id in recovery.resent + recovery.requeued:
        deliver.delay(notification_id)


@shared_task(name="alerts.prune_history")
def prune_history() -> None:
    from . import retention

    retention.prune()


@shared_task(name="alerts.reap_abandoned")
def reap_abandoned() -> None:
    runner.reap_abandoned()
