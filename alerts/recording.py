"""Commit finished runs: their executions, the new instance states, each alert's own
fields and the notifications the events cause, for many alerts in one transaction.

One statement per table for a whole batch rather than a handful per alert: at ten
thousand alerts a minute those per-row round trips, not the alert queries, were
what filled the worker's cores (docs/performance.md).

An instance's row is written only when the run changes it: a field of its state
machine, an event, or (for an instance that is not OK) a value that moved, at most
once every SENTINEL_INSTANCE_VALUE_SECONDS. Instances at rest (OK, nothing counted,
nothing open) are read as keys alone and read whole only when the run moves them.
With 100,000 keys, writing and reading every instance at every run was most of a
run's cost (12 s against 0.3 s for the query, docs/performance.md).
"""

import logging
import zlib
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timezone as tz

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from . import dispatch
from . import evaluation as ev
from .bulk import update_rows
from .evaluation import Evaluation, Outcome
from .gc_pause import collector_paused
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
MACHINE_FIELDS = ["state", "since", "breaches", "firing_open", "announced", "last_notified_at"]

# An instance at rest: what most instances of a big per-entity alert are, run after run.
AT_REST = Q(state=State.OK, breaches=0, firing_open=False, announced=False)
# Stands for every instance at rest in the state machine, which reads their times (since,
# last_notified_at) only to carry them over: whether a run leaves an instance at rest where it is
# depends on the outcome's kind alone, so one transition per kind and alert answers for all of them
# (tests/test_instances_written_on_change.py holds the machine to it). An instance at rest that the
# run moves is read whole and moved from its own row.
RESTING = InstanceState(State.OK, datetime(2000, 1, 1, tzinfo=tz.utc))
READ_CHUNK = 500  # keys per query when reading instances whole: within SQLite's variable limit


@dataclass
class Finished:
    """One alert's run that has its answer (or its failure) and awaits recording."""

    alert: Alert
    execution: Execution
    result: QueryResult | None
    evaluation: Evaluation
    status: str


@dataclass
class Stored:
    """An instance's row as the run found it: what the state machine and the write need of it."""

    pk: int
    machine: InstanceState
    last_value: object
    written_at: datetime

    @property
    def state(self) -> str:
        return self.machine.state


@dataclass
class Found:
    """One alert's instances: those at rest by key alone, the others whole."""

    resting: set[str] = field(default_factory=set)
    whole: dict[str, Stored] = field(default_factory=dict)

    def states(self):
        return [s.state for s in self.whole.values()] + ([State.OK] if self.resting else [])


def worst(states) -> str:
    states = set(states)
    return next((s for s in SEVERITY_ORDER if s in states), State.OK)


def outcomes_for(evaluation: Evaluation, known: dict[str, AlertState]) -> list[Outcome]:
    outcomes = list(evaluation.outcomes)
    if evaluation.keyed and known:
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
    with collector_paused():  # 100,000 instance keys read and sorted out: no cycles among them
        _record(finished)


def _record(finished: list[Finished]) -> None:
    now = timezone.now()
    ids = sorted({f.alert.pk for f in finished})
    with transaction.atomic():
        # One state change at a time per alert; locking in id order keeps two batches from deadlocking.
        locked = {a.pk: a for a in Alert.objects.select_for_update().filter(pk__in=ids).order_by("pk")}
        found = _read_instances(ids)
        runs = [(f, locked[f.alert.pk]) for f in finished if f.alert.pk in locked]  # else deleted mid-run
        work = {f.execution.pk: _to_move(f, alert, found[alert.pk], now) for f, alert in runs}
        _read_whole(found, [(alert.pk, o.key) for f, alert in runs for o in work[f.execution.pk]
                            if o.key in found[alert.pk].resting])
        new_states, changed_states, executions, events = [], [], [], []
        every = settings.SENTINEL_INSTANCE_VALUE_SECONDS
        for f, alert in runs:
            known = found[alert.pk]
            silenced, policy = alert.is_silenced(now), Policy.of(alert)
            before = worst(known.states())
            after_of = {}
            for outcome in work[f.execution.pk]:
                stored = known.whole.get(outcome.key)
                prev = InstanceState() if stored is None else stored.machine
                moved = transition(prev, outcome.kind, policy, now, silenced)
                value = outcome.value
                if value is None and outcome.kind == ev.ERROR and stored is not None:
                    value = stored.last_value  # an error says nothing about the value: keep the last one
                after_of[outcome.key] = moved.state.state
                if stored is None:
                    row = _row(alert, outcome.key, None, moved.state, value, f.execution, now)
                    new_states.append(row)
                elif moved.state != prev or moved.notices or _value_moved(outcome.key, stored, moved.state,
                                                                           value, now, every):
                    row = _row(alert, outcome.key, stored, moved.state, value, f.execution, now)
                    changed_states.append(row)
                else:
                    continue  # nothing changed: no write, no event
                events += [(alert, f.execution, notice, outcome, row) for notice in moved.notices]
            finals = [after_of.get(key, s.state) for key, s in known.whole.items()]
            finals += [state for key, state in after_of.items() if key not in known.whole]
            after = worst(finals + ([State.OK] if known.resting else []))

            _fill(f.execution, f.result, f.evaluation, f.status, now)
            f.execution.state_before, f.execution.state_after = before, after
            executions.append(f.execution)

            alert.state_since = now if after != alert.state else (alert.state_since or now)
            alert.state, alert.last_run_at, alert.last_status = after, f.execution.started_at, f.status
            alert.last_value = f.execution.actual_value
            alert.firing_instances = sum(1 for s in finals if s == State.FIRING)

        AlertState.objects.bulk_create(new_states)
        update_rows(AlertState, changed_states, STATE_FIELDS)
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


def _read_instances(ids: list[int]) -> dict[int, Found]:
    """Each alert's instances: the keys of those at rest, the others whole (two queries a batch)."""
    found = defaultdict(Found)
    for alert_id, key in AlertState.objects.filter(AT_REST, alert_id__in=ids).values_list("alert_id", "key"):
        found[alert_id].resting.add(key)
    _add_whole(found, AlertState.objects.filter(alert_id__in=ids).exclude(AT_REST))
    return found


def _read_whole(found: dict[int, Found], wanted: list[tuple[int, str]]) -> None:
    """Read whole the instances at rest that the runs move, (alert id, key) each, so that each moves
    from its own row."""
    for start in range(0, len(wanted), READ_CHUNK):
        keys = defaultdict(list)
        for alert_id, key in wanted[start:start + READ_CHUNK]:
            keys[alert_id].append(key)
        which = Q()
        for alert_id, chunk in keys.items():
            which |= Q(alert_id=alert_id, key__in=chunk)
        _add_whole(found, AlertState.objects.filter(which))


def _add_whole(found: dict[int, Found], queryset) -> None:
    for alert_id, key, pk, *machine, last_value, written_at in queryset.values_list(
            "alert_id", "key", "pk", *MACHINE_FIELDS, "last_value", "updated_at"):
        found[alert_id].resting.discard(key)
        found[alert_id].whole[key] = Stored(pk, InstanceState(**dict(zip(MACHINE_FIELDS, machine))), last_value,
                                            written_at)


def _to_move(f: Finished, alert: Alert, known: Found, now: datetime) -> list[Outcome]:
    """The run's outcomes that may change an instance: all but those that leave an instance at rest
    where it is (most of a big per-entity alert's, run after run)."""
    outcomes = outcomes_for(f.evaluation, known.whole)  # an instance at rest that is missing stays OK
    if not known.resting:
        return outcomes
    silenced, policy = alert.is_silenced(now), Policy.of(alert)
    stays = {}
    for kind in {o.kind for o in outcomes}:
        moved = transition(RESTING, kind, policy, now, silenced)
        stays[kind] = moved.state == RESTING and not moved.notices
    resting = known.resting
    return [o for o in outcomes if not (stays[o.kind] and o.key in resting)]


def _value_moved(key: str, stored: Stored, new: InstanceState, value, now: datetime, every: int) -> bool:
    """Whether an instance whose state stays put gets its moved value written: only while it is not OK
    (what people look at), at most once every `every` seconds, at a moment of that interval its key
    picks, so that instances written together are not all due again together."""
    if new.state == State.OK or value == stored.last_value:
        return False
    if every <= 0:
        return True
    seconds = now.timestamp()
    slot = seconds - (seconds - zlib.crc32(key.encode()) % every) % every  # the key's latest moment <= now
    return stored.written_at.timestamp() < slot


def _row(alert: Alert, key: str, stored: Stored | None, new: InstanceState, value, execution: Execution,
         now: datetime) -> AlertState:
    """The instance's row to write (insert when not stored yet), every field of STATE_FIELDS set."""
    since = new.since or (stored.machine.since if stored else None) or now
    return AlertState(
        pk=None if stored is None else stored.pk, alert=alert, key=key, state=new.state, since=since,
        breaches=new.breaches, firing_open=new.firing_open, announced=new.announced,
        last_notified_at=new.last_notified_at, last_value=value, last_execution=execution, updated_at=now,
    )


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
