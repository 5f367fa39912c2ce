"""Prune old history so the database does not grow forever, keeping what people look back for.

Two tiers, per alert (docs/operating.md, "Retention"):

- Raw window (SENTINEL_RAW_HISTORY_DAYS, default 7): every execution stays.
- Beyond it, up to the alert's retention (Alert.retention_days, else SENTINEL_RETENTION_DAYS,
  default 90), only the runs worth looking back at stay: every status but OK, every run that
  changed the state (state_before != state_after) and every run that caused a notification.
  A plain OK run there (no change, nothing sent) goes: its hour's rollup holds its figures, and
  it is what most of a minutely history is (99 % at a 1 % share of non-OK runs).
- Beyond the retention everything goes, with what hangs off it: notifications and their
  delivery attempts.

The latest execution of every alert is always kept, however old, so "last run" keeps an answer.
A raw window at or above the retention makes the middle tier empty: every run is kept until the
retention, as before the tiers.

Nothing the statistics still need from the raw rows goes (alerts/rollups.py): no execution of an
hour that is not rolled up yet (RollupProgress.rolled_until; before the first roll-up pass nothing
is pruned), and none that finished after the last roll-up pass looked for late runs
(RollupProgress.checked_until), so a late run reaches its hour's rollup before its row can go.
Rollups themselves are kept SENTINEL_ROLLUP_RETENTION_DAYS (default 400).

Deletes go in small batches, by id and without reading the rows (_delete_batch), each its own
short transaction, so pruning never holds long locks next to running alerts (a day of 10,000
minutely alerts: 1.1 % of one core, bench/history_scale.py); a run stops after
SENTINEL_RETENTION_MAX_SECONDS and the next run carries on. Each batch is found by walking an
index of one alert oldest first: (alert, -scheduled_for) for everything past the retention, and the partial index of the plain OK runs
(execution_plain_ok_by_alert) for the middle tier, so the runs kept there are never read again:
without it every pass re-read them all (1,200 a minutely alert at 1 % non-OK, 12 million rows
an hour at 10,000 alerts; bench/history_size.py --explain).
"""

import logging
import time
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Exists, F, OuterRef, Q
from django.utils import timezone

from .models import (
    Alert, AlertState, DeliveryAttempt, Execution, ExecutionRollup, ExecutionStatus, Notification, OverallRollup,
    RollupProgress,
)

log = logging.getLogger("sentinel.retention")


@dataclass
class Pruned:
    executions: int = 0
    notifications: int = 0
    delivery_attempts: int = 0
    rollups: int = 0
    finished: bool = True  # False: stopped at the time budget, more is left for the next run


def retention_days(alert: Alert) -> int:
    return alert.retention_days or settings.SENTINEL_RETENTION_DAYS


def cutoff_for(alert: Alert, now: datetime) -> datetime:
    """Every execution before it goes (but the alert's latest)."""
    return now - timedelta(days=retention_days(alert))


def raw_cutoff_for(alert: Alert, now: datetime) -> datetime:
    """From here on every execution is kept; before it, plain OK runs go. An hour before it may
    have lost some of its runs to pruning (what re-rolling it from the raw rows must know)."""
    return now - timedelta(days=min(settings.SENTINEL_RAW_HISTORY_DAYS, retention_days(alert)))


def raw_history_from(alert: Alert, now: datetime, rolled_until: datetime | None) -> datetime | None:
    """The hour from which every run of the alert is still a raw row (the charts draw them); before it
    plain OK runs may be gone, and their hours' rollups say what they were. None: nothing has been
    pruned (no roll-up pass yet, so pruning has not started)."""
    if rolled_until is None:
        return None
    start = min(raw_cutoff_for(alert, now), rolled_until)
    hour = start.replace(minute=0, second=0, microsecond=0)
    return hour if hour == start else hour + timedelta(hours=1)


def plain_runs():
    """OK runs that changed nothing and sent nothing: what the middle tier does not keep. The
    first two conditions are the partial index's (execution_plain_ok_by_alert), word for word,
    so PostgreSQL and SQLite can both walk it."""
    notified = Notification.objects.filter(execution=OuterRef("pk"))
    return (Execution.objects.filter(status=ExecutionStatus.OK, state_before=F("state_after"))
            .exclude(Exists(notified)))


def prune(now: datetime | None = None, batch_size: int | None = None, max_seconds: float | None = None) -> Pruned:
    now = now or timezone.now()
    batch_size = batch_size or settings.SENTINEL_RETENTION_BATCH_SIZE
    max_seconds = settings.SENTINEL_RETENTION_MAX_SECONDS if max_seconds is None else max_seconds
    deadline = time.monotonic() + max_seconds
    total = Pruned()
    progress = RollupProgress.objects.filter(pk=1).first()
    if progress is None or progress.rolled_until is None or progress.checked_until is None:
        _log(total)  # nothing is rolled up yet: every raw row is still the only copy of its figures
        return total
    # Recorded before the last roll-up pass looked for late runs: in their hour's rollup.
    settled = Q(finished_at__lt=progress.checked_until) | Q(finished_at__isnull=True)
    # One alert at a time: each query walks one alert's stretch of an index, oldest first.
    for alert in Alert.objects.only("pk", "retention_days").order_by("pk").iterator():
        latest = Execution.objects.filter(alert=alert).order_by("-scheduled_for").values_list("pk", flat=True).first()
        if latest is None:
            continue
        expired = Execution.objects.filter(alert=alert, scheduled_for__lt=min(cutoff_for(alert, now),
                                                                              progress.rolled_until))
        plain = plain_runs().filter(alert=alert, scheduled_for__lt=min(raw_cutoff_for(alert, now),
                                                                       progress.rolled_until))
        for rows in (expired, plain):
            rows = rows.exclude(pk=latest).filter(settled).order_by("scheduled_for")
            if not _in_batches(rows, batch_size, deadline, lambda ids: _delete_batch(ids, total)):
                total.finished = False
                _log(total)
                return total
    rollups = (ExecutionRollup.objects.filter(hour__lt=now - timedelta(days=settings.SENTINEL_ROLLUP_RETENTION_DAYS))
               .order_by("hour"))
    total.finished = _in_batches(rollups, batch_size, deadline, lambda ids: _delete_rollups(ids, total))
    # The overall tier's hours (one row each, whatever the alert count) go with the per-alert ones.
    OverallRollup.objects.filter(hour__lt=now - timedelta(days=settings.SENTINEL_ROLLUP_RETENTION_DAYS)).delete()
    _log(total)
    return total


def _in_batches(rows, batch_size: int, deadline: float, delete) -> bool:
    """Delete the rows (ordered oldest first) batch by batch; False when the time budget ran out first."""
    while True:
        if time.monotonic() > deadline:
            return False
        ids = list(rows.values_list("pk", flat=True)[:batch_size])
        if not ids:
            return True
        delete(ids)
        if len(ids) < batch_size:
            return True


def _delete_rollups(ids: list[int], total: Pruned) -> None:
    total.rollups += ExecutionRollup.objects.filter(pk__in=ids).delete()[0]


def _delete_batch(execution_ids: list[int], total: Pruned) -> None:
    """Delete executions with what refers to them, by id, without reading the rows: Django's
    cascading delete fetched every execution whole (its JSON columns too) to follow the relations,
    most of what expiring a day of 10,000 minutely alerts cost (bench/history_scale.py). The
    relations to Execution are written out here (RELATIONS, checked by tests/test_retention.py)."""
    with transaction.atomic():
        notifications = Notification.objects.filter(execution_id__in=execution_ids)
        total.delivery_attempts += DeliveryAttempt.objects.filter(notification__in=notifications).delete()[0]
        total.notifications += notifications.delete()[0]
        AlertState.objects.filter(last_execution_id__in=execution_ids).update(last_execution=None)
        marks = ", ".join(["%s"] * len(execution_ids))
        with connection.cursor() as cursor:
            cursor.execute(f"DELETE FROM {Execution._meta.db_table} WHERE id IN ({marks})", execution_ids)
            total.executions += cursor.rowcount


# What refers to an execution, and how a pruned one lets go of it (as each relation's on_delete says).
RELATIONS = {("alerts.Notification", "execution"): "deleted first", ("alerts.AlertState", "last_execution"): "set null"}


def _log(total: Pruned) -> None:
    log.info("retention executions=%s notifications=%s delivery_attempts=%s rollups=%s finished=%s",
             total.executions, total.notifications, total.delivery_attempts, total.rollups, total.finished)
