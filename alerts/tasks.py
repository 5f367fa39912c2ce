"""Thin Celery tasks: load ids, call the plain functions that tests call directly.

Every task lives here, and nothing below imports them: the engine enqueues by task
name through alerts/dispatch.py. The names are what queued messages and beat's
entries carry, so they never change (schedules.fire_schedule kept the name of the
app it was born in).
"""

from celery import shared_task
from django.conf import settings
from django.db import InterfaceError, OperationalError, close_old_connections
from django.utils.dateparse import parse_datetime

from . import backtest, delivery, dispatch, fanout, queued_runs, runner
from .models import Trigger

# A run whose connection to Sentinel's own database broke is tried again this often, this many
# times (a minute of outage); past that the reaper finishes its execution as abandoned.
DB_RETRY_SECONDS = 2
DB_RETRIES = 30


@shared_task(name="schedules.fire_schedule", ignore_result=True)
def fire_schedule(schedule_id: int) -> None:
    """One tick of a schedule, as beat sends it: the fan-out to its alerts."""
    fanout.fire_schedule(schedule_id)


@shared_task(name="alerts.run_alerts", acks_late=True, bind=True, max_retries=DB_RETRIES)
def run_alerts(self, alert_ids: list[int], scheduled_for: str, waiting_since: str | None = None) -> None:
    """One tick of a batch of alerts (one schedule, one datasource), as the fan-out sends them
    (waiting_since: handed back for want of a query slot, first taken then)."""
    _run_tick(self, alert_ids, scheduled_for, waiting_since)


@shared_task(name="alerts.run_alert", acks_late=True, bind=True, max_retries=DB_RETRIES)
def run_alert(self, alert_id: int, scheduled_for: str) -> None:
    """One tick of one alert: messages queued by a Sentinel from before batching."""
    _run_tick(self, [alert_id], scheduled_for)


def _run_tick(task, alert_ids: list[int], scheduled_for: str, waiting_since: str | None = None) -> None:
    tick = parse_datetime(scheduled_for)
    since = parse_datetime(waiting_since) if waiting_since else None
    try:
        batch = runner.run_many_by_id(alert_ids, tick, Trigger.SCHEDULE, task_id=task.request.id or "",
                                      waiting_since=since)
    except (OperationalError, InterfaceError) as exc:
        # The database connection died mid-run (failover, pg_terminate_backend). Without this the
        # task failed, was acked, and its executions stayed RUNNING until reaped minutes later.
        close_old_connections()
        try:
            runner.release_claims(alert_ids, tick)
        except (OperationalError, InterfaceError):
            close_old_connections()  # still down: the retry waits out the lease instead
        raise task.retry(exc=exc, countdown=DB_RETRY_SECONDS)
    if batch.handed_back:
        dispatch.run_alerts([batch.handed_back], tick)
    if batch.busy:
        # Another worker holds these ticks, or held them and died: look again when the leases end.
        dispatch.run_alerts([sorted(batch.busy)], tick, countdown=max(batch.busy.values()))
    if batch.waiting:
        # Every query slot of their datasource stayed taken: again shortly, lateness counted until first taken.
        dispatch.run_alerts([batch.waiting], tick, countdown=batch.waiting_countdown,
                            waiting_since=batch.waiting_since)


@shared_task(name="alerts.run_claimed", acks_late=True)
def run_claimed(execution_id: int) -> None:
    queued_runs.run_queued(execution_id, task_id=run_claimed.request.id or "")


@shared_task(name="alerts.deliver", acks_late=True)
def deliver(notification_id: int) -> None:
    outcome = delivery.deliver(notification_id)
    if outcome.retry_in is not None:
        dispatch.deliver([notification_id], countdown=outcome.retry_in)


@shared_task(name="alerts.recover_deliveries")
def recover_deliveries() -> None:
    recovery = delivery.recover_stalled()
    dispatch.deliver(recovery.resent + recovery.requeued)


@shared_task(name="alerts.prune_history")
def prune_history() -> None:
    from . import retention

    retention.prune()


@shared_task(name="alerts.reap_abandoned")
def reap_abandoned() -> None:
    runner.reap_abandoned()


@shared_task(name="alerts.roll_up_history")
def roll_up_history() -> None:
    from . import rollups

    rollups.roll_up()


# Acknowledged when taken, not after: a backtest may run longer than the broker's visibility
# timeout, and a second worker would start it again (its row's claim would refuse it, but late).
# Its own time limit: SENTINEL_BACKTEST_MAX_SECONDS, then one more query at the longest timeout.
@shared_task(name="alerts.run_backtest", acks_late=False, ignore_result=True,
             soft_time_limit=settings.SENTINEL_BACKTEST_MAX_SECONDS + settings.SENTINEL_QUERY_TIMEOUT_MAX + 60,
             time_limit=settings.SENTINEL_BACKTEST_MAX_SECONDS + settings.SENTINEL_QUERY_TIMEOUT_MAX + 120)
def run_backtest(backtest_id: int) -> None:
    backtest.run(backtest_id)
