"""run(alert, scheduled_for, trigger): claim, query, evaluate, transition, record, notify.

The claim is the unique (alert, scheduled_for) insert: whoever inserts the row
runs the tick; everyone else does nothing. State changes and the Notification
rows they cause are committed together, and deliveries are enqueued only after
that commit.
"""

import enum
import logging
import os
import socket
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone

from . import evaluation as ev
from .evaluation import Evaluation, Outcome, Rule, evaluate
from .models import (
    Alert,
    AlertState,
    Execution,
    ExecutionStatus,
    Notification,
    NotificationStatus,
    State,
    Trigger,
)
from .querying import QueryError, QueryResult, QueryTimeout, run_query
from .states import InstanceState, Policy, Transition, transition

log = logging.getLogger("sentinel.runner")

WORKER = f"{socket.gethostname()}:{os.getpid()}"
# A tick whose run killed its worker this many times ends as ERROR instead of looping.
MAX_ATTEMPTS = 3
# Worst first: the alert's own state is its worst instance's.
SEVERITY_ORDER = [State.FIRING, State.ERROR, State.NO_DATA, State.PENDING, State.OK]


class Claim(enum.Enum):
    CLAIMED = "claimed"  # a new execution: run it
    RESUMED = "resumed"  # an abandoned RUNNING execution whose lease expired: run it again
    BUSY = "busy"  # another worker holds the tick's lease: try again after it expires
    DONE = "done"  # the tick already has its finished execution


@dataclass
class DryRun:
    result: QueryResult | None
    evaluation: Evaluation
    status: str
    transitions: dict[str, Transition] = field(default_factory=dict)


def run_by_id(alert_id: int, scheduled_for: datetime, trigger: str, task_id: str = "") -> Execution | None:
    alert = Alert.objects.select_related("datasource", "schedule").filter(pk=alert_id).first()
    if alert is None:
        log.warning("alert %s no longer exists; tick %s dropped", alert_id, scheduled_for.isoformat())
        return None
    return run(alert, scheduled_for, trigger, task_id=task_id)


def seconds_until_resumable(alert_id: int, scheduled_for: datetime) -> float | None:
    """If the tick is still RUNNING under someone's lease, how long until it may be taken over."""
    lease = (
        Execution.objects.filter(alert_id=alert_id, scheduled_for=scheduled_for, status=ExecutionStatus.RUNNING)
        .values_list("lease_expires_at", flat=True)
        .first()
    )
    if lease is None:
        return None
    return max(1.0, (lease - timezone.now()).total_seconds() + 1)


def release_claim(alert_id: int, scheduled_for: datetime) -> int:
    """Let this worker's RUNNING execution of the tick be resumed at once: its run broke off
    (Sentinel's database dropped the connection), and waiting out the lease would skip the next ticks."""
    return Execution.objects.filter(
        alert_id=alert_id, scheduled_for=scheduled_for, status=ExecutionStatus.RUNNING, worker=WORKER,
    ).update(lease_expires_at=timezone.now())


def run(alert: Alert, scheduled_for: datetime, trigger: str = Trigger.MANUAL, *, dry_run: bool = False,
        task_id: str = "") -> Execution | DryRun | None:
    """Run one tick of an alert. Returns its Execution, a DryRun, or None when the tick is not ours."""
    if dry_run:
        return _dry_run(alert)
    claim, execution = claim_tick(alert, scheduled_for, trigger, task_id)
    if claim in (Claim.BUSY, Claim.DONE):
        return execution if claim == Claim.DONE else None
    return run_claimed(alert, execution, claim)


def run_claimed(alert: Alert, execution: Execution, claim: Claim = Claim.CLAIMED) -> Execution:
    """The run after its claim. The API claims first and queues this, so it can answer with the execution id."""
    scheduled_for, trigger = execution.scheduled_for, execution.trigger
    now = timezone.now()
    if execution.attempts > MAX_ATTEMPTS:
        return _finish(execution, ExecutionStatus.ERROR,
                       f"Gave up after {MAX_ATTEMPTS} attempts: each run of this tick lost its worker.")
    grace = grace_for(alert)
    # A resumed execution started in time; its worker died. Finish it rather than call it missed.
    if claim == Claim.CLAIMED and trigger == Trigger.SCHEDULE and grace is not None and now - scheduled_for > grace:
        return _finish(execution, ExecutionStatus.MISSED,
                       f"Started {(now - scheduled_for).total_seconds():.0f} s after its tick; the grace is "
                       f"{grace.total_seconds():.0f} s.")
    running = (
        Execution.objects.filter(alert=alert, status=ExecutionStatus.RUNNING, lease_expires_at__gt=now)
        .exclude(pk=execution.pk)
        .order_by("scheduled_for")
        .first()
    )
    if running is not None:
        return _finish(execution, ExecutionStatus.SKIPPED,
                       f"The run for {running.scheduled_for.isoformat()} (execution {running.pk}) is still running.")
    if not alert.datasource.enabled:
        return _finish(execution, ExecutionStatus.SKIPPED, f"Datasource {alert.datasource.name} is disabled.")

    result, evaluation, status = query_and_evaluate(alert)
    return record(alert, execution, result, evaluation, status)


def reap_abandoned(now: datetime | None = None) -> list[int]:
    """Finish RUNNING executions nobody will finish: a lease that ran out long enough ago that the
    broker would have handed the message to another worker, or a queued API run never picked up."""
    now = now or timezone.now()
    abandoned = list(
        Execution.objects.filter(status=ExecutionStatus.RUNNING, lease_expires_at__lt=now - settings.SENTINEL_ABANDONED_AFTER)
        .values_list("pk", flat=True)
    )
    never_started = list(
        Execution.objects.filter(status=ExecutionStatus.RUNNING, lease_expires_at__isnull=True,
                                 started_at__lt=now - settings.SENTINEL_QUEUED_RUN_MAX_WAIT)
        .values_list("pk", flat=True)
    )
    reasons = [(pk, "Abandoned: its worker stopped mid-run and no other worker took it over.") for pk in abandoned]
    reasons += [(pk, "Abandoned: queued but never picked up by a worker.") for pk in never_started]
    for pk, reason in reasons:
        execution = Execution.objects.filter(pk=pk, status=ExecutionStatus.RUNNING).first()
        if execution is not None:
            _finish(execution, ExecutionStatus.ERROR, reason)
    return [pk for pk, _ in reasons]


def claim_tick(alert: Alert, scheduled_for: datetime, trigger: str, task_id: str = "") -> tuple[Claim, Execution | None]:
    now = timezone.now()
    lease = lease_until(alert, now)
    try:
        with transaction.atomic():
            execution = Execution.objects.create(
                alert=alert, scheduled_for=scheduled_for, trigger=trigger, status=ExecutionStatus.RUNNING,
                started_at=now, lease_expires_at=lease, worker=WORKER, task_id=task_id,
            )
            return Claim.CLAIMED, execution
    except IntegrityError:
        pass
    # The tick is claimed already. Take it over only if its lease ran out (its worker died).
    resumed = Execution.objects.filter(
        alert=alert, scheduled_for=scheduled_for, status=ExecutionStatus.RUNNING, lease_expires_at__lt=now
    ).update(lease_expires_at=lease, attempts=F("attempts") + 1, worker=WORKER, task_id=task_id, started_at=now)
    execution = Execution.objects.filter(alert=alert, scheduled_for=scheduled_for).first()
    if resumed == 1:
        log.warning("execution %s of %s resumed: its previous worker stopped mid-run", execution.pk, alert.name)
        return Claim.RESUMED, execution
    if execution is not None and execution.status == ExecutionStatus.RUNNING:
        return Claim.BUSY, execution
    return Claim.DONE, execution


def lease_until(alert: Alert, now: datetime) -> datetime:
    return now + timedelta(seconds=alert.datasource.timeout_seconds) + settings.SENTINEL_LEASE_MARGIN


def grace_for(alert: Alert) -> timedelta | None:
    """How late a scheduled run may start: the alert's grace, else half its period, at most 5 minutes."""
    if alert.grace is not None:
        return alert.grace
    if alert.schedule is None:
        return None
    period = alert.schedule.period()
    return min(period / 2, timedelta(minutes=5)) if period else None


def query_and_evaluate(alert: Alert) -> tuple[QueryResult | None, Evaluation, str]:
    try:
        result = run_query(alert.datasource, alert.query)
    except QueryTimeout as exc:
        return None, _failed(str(exc)), ExecutionStatus.TIMEOUT
    except QueryError as exc:
        return None, _failed(str(exc)), ExecutionStatus.ERROR
    evaluation = evaluate(Rule.of(alert), result.columns, result.rows)
    return result, evaluation, _status_of(evaluation)


def _failed(message: str) -> Evaluation:
    return Evaluation([Outcome(ev.ERROR, message=message)], message=message)


def _status_of(evaluation: Evaluation) -> str:
    kinds = {o.kind for o in evaluation.outcomes}
    if ev.ERROR in kinds:
        return ExecutionStatus.ERROR
    if ev.BREACH in kinds:
        return ExecutionStatus.ALERT
    if kinds == {ev.NO_DATA}:
        return ExecutionStatus.NO_DATA
    return ExecutionStatus.OK


def _outcomes_for(evaluation: Evaluation, known: dict[str, AlertState]) -> list[Outcome]:
    outcomes = list(evaluation.outcomes)
    if evaluation.keyed:
        # Per-entity: an instance missing from a good answer has recovered.
        present = {o.key for o in outcomes}
        outcomes += [Outcome(ev.OK, key=key) for key, s in known.items() if key not in present and s.state != State.OK]
    return outcomes


def _instance(row: AlertState | None) -> InstanceState:
    if row is None:
        return InstanceState()
    return InstanceState(row.state, row.since, row.breaches, row.firing_open, row.announced, row.last_notified_at)


def worst(states) -> str:
    states = set(states)
    return next((s for s in SEVERITY_ORDER if s in states), State.OK)


def record(alert: Alert, execution: Execution, result: QueryResult | None, evaluation: Evaluation,
           status: str) -> Execution:
    """Commit the execution, the new instance states and their notifications in one transaction."""
    now = timezone.now()
    with transaction.atomic():
        alert = Alert.objects.select_for_update().get(pk=alert.pk)  # one state change at a time per alert
        known = {s.key: s for s in AlertState.objects.filter(alert=alert)}
        silenced = alert.is_silenced(now)
        policy = Policy.of(alert)
        before = worst(s.state for s in known.values())
        notices = []
        for outcome in _outcomes_for(evaluation, known):
            row = known.get(outcome.key)
            moved = transition(_instance(row), outcome.kind, policy, now, silenced)
            if row is None:
                row = known[outcome.key] = AlertState(alert=alert, key=outcome.key)
            _apply(row, moved.state, outcome, execution)
            row.save()
            notices += [(notice, outcome) for notice in moved.notices]
        after = worst(s.state for s in known.values())

        _fill(execution, result, evaluation, status, now)
        execution.state_before, execution.state_after = before, after
        execution.save()

        firing = sum(1 for s in known.values() if s.state == State.FIRING)
        Alert.objects.filter(pk=alert.pk).update(
            state=after,
            state_since=now if after != alert.state else (alert.state_since or now),
            last_run_at=execution.started_at,
            last_status=status,
            last_value=execution.actual_value,
            firing_instances=firing,
        )
        notifications = _notify(alert, execution, notices, known, now)
    log.info(
        "alert=%s alert_id=%s execution=%s tick=%s status=%s state=%s->%s notifications=%d",
        alert.name, alert.pk, execution.pk, execution.scheduled_for.isoformat(), status, before, after,
        len(notifications),
    )
    return execution


def _apply(row: AlertState, new: InstanceState, outcome: Outcome, execution: Execution) -> None:
    row.state, row.since, row.breaches = new.state, new.since or row.since, new.breaches
    row.firing_open, row.announced, row.last_notified_at = new.firing_open, new.announced, new.last_notified_at
    if outcome.value is not None or outcome.kind != ev.ERROR:
        row.last_value = outcome.value
    row.last_execution = execution


def _fill(execution: Execution, result: QueryResult | None, evaluation: Evaluation, status: str,
          now: datetime) -> None:
    execution.status = status
    execution.finished_at = now
    execution.duration_ms = (now - execution.started_at).total_seconds() * 1000
    execution.lease_expires_at = None
    execution.error = evaluation.error
    execution.actual_value = evaluation.value
    execution.threshold = evaluation.threshold
    if len(evaluation.outcomes) == 1 and not evaluation.keyed:
        execution.context = evaluation.outcomes[0].context
    if result is not None:
        execution.row_count = len(result.rows)
        execution.truncated = result.truncated
        execution.columns = result.columns
        execution.preview = preview(result.rows)


def preview(rows: list[tuple]) -> list[list]:
    cap = settings.SENTINEL_PREVIEW_CELL_CHARS

    def cell(value):
        if isinstance(value, str) and len(value) > cap:
            return value[:cap] + f"... ({len(value)} characters)"
        return value

    return [[cell(v) for v in row] for row in rows[: settings.SENTINEL_PREVIEW_ROWS]]


def _notify(alert, execution, notices, known, now) -> list[Notification]:
    if not notices:
        return []
    channels = [c for c in alert.channels.all() if c.enabled]
    rows = []
    for notice, outcome in notices:
        payload = message_payload(alert, execution, notice.event, outcome, known[outcome.key])
        for channel in channels:
            rows.append(Notification(
                execution=execution, alert=alert, instance_key=outcome.key, channel=channel, event=notice.event,
                status=NotificationStatus.SUPPRESSED if notice.suppressed else NotificationStatus.PENDING,
                payload=payload, created_at=now,
            ))
    created = Notification.objects.bulk_create(rows)
    pending = [n.pk for n in created if n.status == NotificationStatus.PENDING]
    if pending:
        from .tasks import deliver

        transaction.on_commit(lambda: [deliver.delay(pk) for pk in pending])
    return created


def message_payload(alert: Alert, execution: Execution, event: str, outcome: Outcome, state: AlertState) -> dict:
    """What a message about this event says; fixed when the event happens, rendered per channel later."""
    base = settings.SENTINEL_BASE_URL
    return {
        "version": 1,
        "event": event,
        "alert": {"id": alert.pk, "name": alert.name, "description": alert.description, "severity": alert.severity},
        "instance_key": outcome.key,
        "state": state.state,
        "value": outcome.value,
        "threshold": outcome.threshold,
        "context": outcome.context,
        "error": outcome.message if outcome.kind == ev.ERROR else "",
        "execution": {
            "id": execution.pk,
            "status": execution.status,
            "scheduled_for": execution.scheduled_for.isoformat(),
            "started_at": execution.started_at.isoformat(),
            "columns": execution.columns,
            "rows": execution.preview[:5],
        },
        # event_at also dates the message's signed silence links (alerts/links.py).
        "times": {
            "event_at": timezone.now().isoformat(),
            "state_since": state.since.isoformat() if state.since else None,
        },
        "links": {
            "alert": f"{base}/admin/alerts/alert/{alert.pk}/change/",
            "execution": f"{base}/admin/alerts/execution/{execution.pk}/change/",
        },
    }


def _finish(execution: Execution, status: str, reason: str) -> Execution:
    now = timezone.now()
    execution.status, execution.reason, execution.finished_at = status, reason, now
    execution.duration_ms = (now - execution.started_at).total_seconds() * 1000
    execution.lease_expires_at = None
    if status == ExecutionStatus.ERROR:
        execution.error = reason
    execution.save()
    log.info("alert_id=%s execution=%s tick=%s status=%s reason=%s", execution.alert_id, execution.pk,
             execution.scheduled_for.isoformat(), status, reason)
    return execution


def _dry_run(alert: Alert) -> DryRun:
    result, evaluation, status = query_and_evaluate(alert)
    known = {s.key: s for s in AlertState.objects.filter(alert=alert)}
    policy, now, silenced = Policy.of(alert), timezone.now(), alert.is_silenced()
    transitions = {
        o.key: transition(_instance(known.get(o.key)), o.kind, policy, now, silenced)
        for o in _outcomes_for(evaluation, known)
    }
    return DryRun(result, evaluation, status, transitions)
