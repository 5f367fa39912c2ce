"""Prune old history so the database does not grow forever.

An execution older than its alert's retention (Alert.retention_days, else
SENTINEL_RETENTION_DAYS, default 90) is deleted together with what hangs off it:
its notifications and their delivery attempts. The latest execution of every
alert is always kept, however old, so "last run" keeps an answer.

Deletes go in small batches, each its own short transaction, so pruning never
holds long locks next to running alerts; a run stops after
SENTINEL_RETENTION_MAX_SECONDS and the next run carries on.
"""

import logging
import time
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from .models import Alert, DeliveryAttempt, Execution, Notification

log = logging.getLogger("sentinel.retention")


@dataclass
class Pruned:
    executions: int = 0
    notifications: int = 0
    delivery_attempts: int = 0
    finished: bool = True  # False: stopped at the time budget, more is left for the next run


def cutoff_for(alert: Alert, now: datetime) -> datetime:
    days = alert.retention_days or settings.SENTINEL_RETENTION_DAYS
    return now - timedelta(days=days)


def prune(now: datetime | None = None, batch_size: int | None = None, max_seconds: float | None = None) -> Pruned:
    now = now or timezone.now()
    batch_size = batch_size or settings.SENTINEL_RETENTION_BATCH_SIZE
    max_seconds = settings.SENTINEL_RETENTION_MAX_SECONDS if max_seconds is None else max_seconds
    deadline = time.monotonic() + max_seconds
    total = Pruned()
    # One alert at a time: each query walks the (alert, -scheduled_for) index.
    for alert in Alert.objects.only("pk", "retention_days").order_by("pk").iterator():
        latest = Execution.objects.filter(alert=alert).order_by("-scheduled_for").values_list("pk", flat=True).first()
        if latest is None:
            continue
        old = Execution.objects.filter(alert=alert, scheduled_for__lt=cutoff_for(alert, now)).exclude(pk=latest)
        while True:
            if time.monotonic() > deadline:
                total.finished = False
                _log(total)
                return total
            ids = list(old.order_by("scheduled_for").values_list("pk", flat=True)[:batch_size])
            if not ids:
                break
            _delete_batch(ids, total)
            if len(ids) < batch_size:
                break
    _log(total)
    return total


def _delete_batch(execution_ids: list[int], total: Pruned) -> None:
    with transaction.atomic():
        notifications = Notification.objects.filter(execution_id__in=execution_ids)
        total.delivery_attempts += DeliveryAttempt.objects.filter(notification__in=notifications).delete()[0]
        total.notifications += notifications.delete()[0]
        # Whatever else refers to an execution (AlertState.last_execution, ...) is handled by its on_delete.
        deleted = Execution.objects.filter(pk__in=execution_ids).delete()[1]
        total.executions += deleted.get(Execution._meta.label, 0)


def _log(total: Pruned) -> None:
    log.info("retention executions=%s notifications=%s delivery_attempts=%s finished=%s",
             total.executions, total.notifications, total.delivery_attempts, total.finished)
