"""Thin Celery tasks: load ids, call the plain functions that tests call directly."""

from celery import shared_task
from django.utils.dateparse import parse_datetime

from . import delivery, runner
from .models import Trigger


@shared_task(name="alerts.run_alert", acks_late=True)
def run_alert(alert_id: int, scheduled_for: str) -> None:
    runner.run_by_id(alert_id, parse_datetime(scheduled_for), Trigger.SCHEDULE, task_id=run_alert.request.id or "")


@shared_task(name="alerts.deliver", acks_late=True)
def deliver(notification_id: int) -> None:
    outcome = delivery.deliver(notification_id)
    if outcome.retry_in is not None:
        deliver.apply_async((notification_id,), countdown=outcome.retry_in)
