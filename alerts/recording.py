"""Commit finished runs: their executions, the new instance states, each alert's own
fields and the notifications the events cause, for many alerts in one transaction.

One statement per table for a whole batch rather than a handful per alert: at ten
thousand alerts a minute those per-row round trips, not the alert queries, were
what filled the worker's cores (docs/performance.md).
"""

import logging
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from . import dispatch
from . import evaluation as ev
from .bulk import update_rows
from .evaluation import Evaluation, Outcome
from .models import Alert, AlertState, Execution, ExecutionStatus, Notification, NotificationStatus, State
from .notifiers.payload import build as build_payload
from .querying import QueryResult, cut_row
from .states import InstanceState, Policy, transition

log = logging.getLogger("sentinel.runner")

# Worst first: the alert's own state is its worst instance's.
SEVERITY_ORDER = [State.FIRING, State.ERROR, State.NO_DATA, State.PENDING, State.OK]

STATE_FIELDS = ["state", "since", "breaches", "firing_open", "announced", "last_notified_at", "last_value",
                "last_execution", "updated_at"]
EXECUTION_FIELDS = ["status", "finished_at", "duration_ms", "lease_expires_at", "error", "actual_value", "threshold",
                    "context", "row_count", "truncated", "columns", "preview", "state_before", "state_after"]
FINISH_FIELDS = ["status", "reason", "finished_at", "duration_ms", "lease_expires_at", "error"]
ALERT_FIELDS = ["state", "state_since", "last_run_at", "last_status", "last_value", "firing_instances"]


@dataclass
class Finished:
    """One alert's run that has its answer (or its failure) and awaits recording."""

    alert: Alert
    execution: Execution
    result: QueryResult | None
    evaluation: Evaluation
    status: str


def worst(states) -> str:
    states = set(states)
    return next((s for s in SEVERITY_ORDER if s in states), State.OK)


def outcomes_for(evaluation: Evaluation, known: dict[str, AlertState]) -> list[Outcome]:
    outcomes = list(evaluation.outcomes)
    if evaluation.keyed:
        # Per-entity: an instance missing from a good answer has recovered.
        present = {o.key for o in outcomes}
        outcomes += [Outcome(ev.OK, key=key) for key, s in known.items() if key not in present and s.state != State.OK]
    return outcomes


def instance_of(row: AlertState | None) -> InstanceState:
    if row is None:
        return InstanceState()
    return InstanceState(row.state, row.since, row.breaches, row.firing_open, row.announced, row.last_notified_at)


def record(finished: list[Finished]) -> None:
    """Commit the runs, their instance states and their notifications in one transaction."""
    if not finished:
        return
    now = timezone.now()
    ids = sorted({f.alert.pk for f in finished})
    with transaction.atomic():
        # One state change at a time per alert; locking in id order keeps two batches from deadlocking.
        locked = {a.pk: a for a in Alert.objects.select_for_update().filter(pk__in=ids).order_by("pk")}
        known = defaultdict(dict)
        for row in AlertState.objects.filter(alert_id__in=ids):
            known[row.alert_id][row.key] = row
        new_states, changed_states, executions, events = [], {}, [], []
        for f in finished:
            alert = locked.get(f.alert.pk)
            if alert is None:
                continue  # deleted mid-run; its execution went with it
            states = known[alert.pk]
            silenced, policy = alert.is_silenced(now), Policy.of(alert)
            before = worst(s.state for s in states.values())
            for outcome in outcomes_for(f.evaluation, states):
                row = states.get(outcome.key)
                moved = transition(instance_of(row), outcome.kind, policy, now, silenced)
                if row is None:
                    row = states[outcome.key] = AlertState(alert=alert, key=outcome.key)
                    new_states.append(row)
                else:
                    changed_states[row.pk] = row
                _apply(row, moved.state, outcome, f.execution, now)
                events += [(alert, f.execution, notice, outcome, row) for notice in moved.notices]
            after = worst(s.state for s in states.values())

            _fill(f.execution, f.result, f.evaluation, f.status, now)
            f.execution.state_before, f.execution.state_after = before, after
            executions.append(f.execution)

            alert.state_since = now if after != alert.state else (alert.state_since or now)
            alert.state, alert.last_run_at, alert.last_status = after, f.execution.started_at, f.status
            alert.last_value = f.execution.actual_value
            alert.firing_instances = sum(1 for s in states.values() if s.state == State.FIRING)

        AlertState.objects.bulk_create(new_states)
        update_rows(AlertState, list(changed_states.values()), STATE_FIELDS)
        update_rows(Execution, executions, EXECUTION_FIELDS)
        update_rows(Alert, list(locked.values()), ALERT_FIELDS)
        notifications = _notify(events, now)
    sent = defaultdict(int)
    for n in notifications:
        sent[n.execution_id] += 1
    for f in finished:
        e = f.execution
        log.info("alert=%s alert_id=%s execution=%s tick=%s status=%s state=%s->%s notifications=%d",
                 f.alert.name, e.alert_id, e.pk, e.scheduled_for.isoformat(), e.status, e.state_before,
                 e.state_after, sent[e.pk])


def finish(executions: list[Execution]) -> None:
    """Record executions that end without a query (MISSED, SKIPPED, given up), each with its reason,
    already set on it."""
    if not executions:
        return
    now = timezone.now()
    for e in executions:
        e.finished_at, e.lease_expires_at = now, None
        e.duration_ms = (now - e.started_at).total_seconds() * 1000
        if e.status == ExecutionStatus.ERROR:
            e.error = e.reason
    update_rows(Execution, executions, FINISH_FIELDS)
    for e in executions:
        log.info("alert_id=%s execution=%s tick=%s status=%s reason=%s", e.alert_id, e.pk,
                 e.scheduled_for.isoformat(), e.status, e.reason)


def _apply(row: AlertState, new: InstanceState, outcome: Outcome, execution: Execution, now: datetime) -> None:
    row.state, row.since, row.breaches = new.state, new.since or row.since, new.breaches
    row.firing_open, row.announced, row.last_notified_at = new.firing_open, new.announced, new.last_notified_at
    if outcome.value is not None or outcome.kind != ev.ERROR:
        row.last_value = outcome.value
    row.last_execution, row.updated_at = execution, now


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
    """The first rows, each cell and each row cut by its JSON size (nested values included)."""
    cell, row_chars = settings.SENTINEL_PREVIEW_CELL_CHARS, settings.SENTINEL_PREVIEW_ROW_CHARS
    return [cut_row(row, cell, row_chars) for row in rows[: settings.SENTINEL_PREVIEW_ROWS]]


def _notify(events, now) -> list[Notification]:
    if not events:
        return []
    channels = defaultdict(list)
    links = Alert.channels.through.objects.filter(
        alert_id__in={alert.pk for alert, *_ in events}, channel__enabled=True,
    ).select_related("channel").order_by("channel__name")
    for link in links:
        channels[link.alert_id].append(link.channel)
    rows = []
    for alert, execution, notice, outcome, state in events:
        payload = message_payload(alert, execution, notice.event, outcome, state)
        for channel in channels[alert.pk]:
            rows.append(Notification(
                execution=execution, alert=alert, instance_key=outcome.key, channel=channel, event=notice.event,
                status=NotificationStatus.SUPPRESSED if notice.suppressed else NotificationStatus.PENDING,
                payload=payload, created_at=now,
            ))
    created = Notification.objects.bulk_create(rows)
    dispatch.deliver([n.pk for n in created if n.status == NotificationStatus.PENDING])  # once committed
    return created


def message_payload(alert: Alert, execution: Execution, event: str, outcome: Outcome, state: AlertState) -> dict:
    """What a message about this event says (the contract: alerts/notifiers/payload.py); fixed when
    the event happens, rendered per channel later."""
    return build_payload(
        event, alert_id=alert.pk, alert_name=alert.name, description=alert.description, severity=alert.severity,
        instance_key=outcome.key, state=state.state, value=outcome.value, threshold=outcome.threshold,
        context=outcome.context, error=outcome.message if outcome.kind == ev.ERROR else "",
        execution_id=execution.pk, execution_status=execution.status, scheduled_for=execution.scheduled_for,
        started_at=execution.started_at, columns=execution.columns, rows=execution.preview,
        state_since=state.since, alert_path=f"/admin/alerts/alert/{alert.pk}/change/",
        execution_path=f"/admin/alerts/execution/{execution.pk}/change/",
    )
