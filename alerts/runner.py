"""Run alerts for a tick: claim, check, query, evaluate, then record in bulk.

The claim is the unique (alert, scheduled_for) insert: whoever inserts the row
runs the tick; everyone else does nothing. The fan-out hands a worker a batch of
alerts of one schedule and datasource, so claims, checks and the recording are
one statement per batch, not per alert (alerts/recording.py). State changes and
the Notification rows they cause are committed together, and deliveries are
enqueued only after that commit (alerts/dispatch.py). A single run (manual, CLI, API) is a batch of one.

On a datasource with a cap on concurrent queries, a batch holds one of its query slots while it
queries (alerts/datasource_slots.py); one that finds none free in a few seconds hands its rest back.
Lateness counts from an alert's place in its datasource's spread (alerts/spread.py), and for a
handed-back batch until it was first taken: neither a spread nor a wait for a slot makes a run MISSED.
"""

import enum
import logging
import os
import socket
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.conf import settings
from django.db import IntegrityError, InterfaceError, OperationalError, transaction
from django.db.models import F
from django.utils import timezone

from . import datasource_slots, spread, ticks
from . import evaluation as ev
from .evaluation import Evaluation, Outcome, Rule, evaluate
from .models import Alert, AlertState, Execution, ExecutionStatus, Trigger
from .querying import QueryError, QueryResult, QueryTimeout, run_query
from .recording import Finished, finish, instance_of, outcomes_for, record
from .states import Policy, Transition, transition

log = logging.getLogger("sentinel.runner")

WORKER = f"{socket.gethostname()}:{os.getpid()}"
# A tick whose run killed its worker this many times ends as ERROR instead of looping.
MAX_ATTEMPTS = 3


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
    binding: ticks.Binding | None = None  # the tick parameters it bound, when its query uses them


@dataclass
class Batch:
    """What one batch did with each of its alerts."""

    executions: dict[int, Execution] = field(default_factory=dict)  # alert id -> its execution of the tick
    busy: dict[int, float] = field(default_factory=dict)  # alert id -> seconds until another worker's lease ends
    handed_back: list[int] = field(default_factory=list)  # not started before the batch's time ran out
    # Not started: every query slot of their (capped) datasource stayed taken. Sent again after
    # waiting_countdown seconds, judged for lateness at waiting_since (when the batch was first taken).
    waiting: list[int] = field(default_factory=list)
    waiting_since: datetime | None = None
    waiting_countdown: float = datasource_slots.RETRY_AFTER_SECONDS


@dataclass
class _Outcome:
    """What _run_claimed did: the finished runs, and the ones it gave back unstarted."""

    done: list[Execution]
    handed_back: list[int] = field(default_factory=list)
    waiting: list[int] = field(default_factory=list)
    waiting_since: datetime | None = None


def run(alert: Alert, scheduled_for: datetime, trigger: str = Trigger.MANUAL, *, dry_run: bool = False,
        task_id: str = "") -> Execution | DryRun | None:
    """Run one tick of an alert. Returns its Execution, a DryRun, or None when the tick is not ours."""
    if dry_run:
        return _dry_run(alert, scheduled_for)
    return run_many([alert], scheduled_for, trigger, task_id=task_id).executions.get(alert.pk)


def run_by_id(alert_id: int, scheduled_for: datetime, trigger: str, task_id: str = "") -> Execution | None:
    return run_many_by_id([alert_id], scheduled_for, trigger, task_id).executions.get(alert_id)


def run_many_by_id(alert_ids: list[int], scheduled_for: datetime, trigger: str, task_id: str = "",
                   waiting_since: datetime | None = None) -> Batch:
    alerts = list(Alert.objects.select_related("datasource", "schedule").filter(pk__in=alert_ids).order_by("pk"))
    gone = set(alert_ids) - {a.pk for a in alerts}
    if gone:
        log.warning("alerts %s no longer exist; tick %s dropped for them", sorted(gone), scheduled_for.isoformat())
    return run_many(alerts, scheduled_for, trigger, task_id, waiting_since)


def run_many(alerts: list[Alert], scheduled_for: datetime, trigger: str, task_id: str = "",
             waiting_since: datetime | None = None) -> Batch:
    """Run one tick of each alert: claim them all, then run the ones this worker got.
    `waiting_since`: the batch was handed back for want of a query slot; its lateness counts until then."""
    batch = Batch()
    claimed = []
    for alert, (claim, execution) in zip(alerts, claim_ticks(alerts, scheduled_for, trigger, task_id)):
        if claim == Claim.DONE:
            batch.executions[alert.pk] = execution
        elif claim == Claim.BUSY:
            if execution.lease_expires_at is not None:
                batch.busy[alert.pk] = _seconds_left(execution.lease_expires_at)
        else:
            claimed.append((alert, execution, claim))
    outcome = _run_claimed(claimed, waiting_since)
    batch.handed_back, batch.waiting, batch.waiting_since = outcome.handed_back, outcome.waiting, outcome.waiting_since
    batch.executions.update({e.alert_id: e for e in outcome.done})
    return batch


def run_claimed(alert: Alert, execution: Execution, claim: Claim = Claim.CLAIMED) -> Execution:
    """The run after its claim. The API claims first and queues this, so it can answer with the execution id."""
    return _run_claimed([(alert, execution, claim)]).done[0]


def _run_claimed(claimed: list[tuple[Alert, Execution, Claim]], waiting_since: datetime | None = None) -> _Outcome:
    """Check, query and record each claimed run in order; hand back what the time budget does not reach,
    and, on a capped datasource, what finds no free query slot."""
    taken_at = waiting_since or timezone.now()  # when this batch was first taken, for its lateness
    running = _still_running(claimed, timezone.now())
    periods: dict[int, timedelta | None] = {}
    gaps: dict[int, timedelta | None] = {}
    done, finished, ended = [], [], []
    started = leased = flushed = time.monotonic()
    # A batch is of one datasource: with a cap, it holds one of its slots while it queries.
    datasource = claimed[0][0].datasource if claimed else None
    holder = datasource_slots.Holder(datasource) if datasource and datasource_slots.is_capped(datasource) else None

    def flush():
        _record_each_on_failure(finished)
        finish(ended)
        done.extend([f.execution for f in finished] + ended)
        finished.clear()
        ended.clear()

    try:
        for i, (alert, execution, claim) in enumerate(claimed):
            if i and time.monotonic() - started > settings.SENTINEL_BATCH_SECONDS:
                if holder is not None:
                    holder.release()
                flush()
                return _Outcome(done, handed_back=_hand_back(claimed[i:], "batch ran out of time"))
            try:
                why_not = _why_not_run(alert, execution, claim, running.get(alert.pk), periods, gaps, waiting_since)
            except Exception as exc:  # e.g. a schedule that cannot say its period: this alert's ERROR alone
                log.exception("alert=%s alert_id=%s failed unexpectedly", alert.name, alert.pk)
                why_not = ExecutionStatus.ERROR, _internal_error(type(exc).__name__)
            if why_not:
                execution.status, execution.reason = why_not
                ended.append(execution)
            else:
                if time.monotonic() - leased > settings.SENTINEL_LEASE_MARGIN.total_seconds() / 2:
                    # Slow queries: keep this batch's runs, waiting or not yet recorded, and its query
                    # slot from looking abandoned.
                    _renew_leases([e for _, e, _ in claimed], alert.datasource.timeout_seconds)
                    if holder is not None:
                        holder.renew()
                    leased = time.monotonic()
                if holder is not None and not holder.take():
                    if execution.trigger == Trigger.SCHEDULE:
                        # Every slot stayed taken: give the rest back for a later task rather than hold
                        # this worker, to be judged for lateness at taken_at: the wait is not a miss.
                        flush()
                        rest = _hand_back(claimed[i:], f"no query slot of {alert.datasource.name} came free")
                        return _Outcome(done, waiting=rest, waiting_since=taken_at)
                    execution.status, execution.reason = ExecutionStatus.SKIPPED, _no_slot(alert.datasource)
                    ended.append(execution)
                    continue
                finished.append(Finished(alert, execution, *query_and_evaluate(alert, execution.scheduled_for)))
            if time.monotonic() - flushed > settings.SENTINEL_BATCH_FLUSH_SECONDS:
                flush()
                flushed = time.monotonic()
        if holder is not None:
            holder.release()  # before the last recording: a slot is for queries
        flush()
        return _Outcome(done)
    finally:
        if holder is not None:
            _release_quietly(holder)


def _release_quietly(holder: datasource_slots.Holder) -> None:
    """Give back the slot of a batch that broke off; with Sentinel's database gone, its lease frees it."""
    try:
        holder.release()
    except (OperationalError, InterfaceError):
        log.warning("could not give back a query slot of %s; it frees itself when its lease ends",
                    holder.datasource.name)


def _no_slot(datasource) -> str:
    return (f"All {datasource.max_concurrent_queries} query slot(s) of datasource {datasource.name} stayed taken "
            f"for {datasource_slots.WAIT_SECONDS:.0f} s; not queried. Try again shortly.")


def _record_each_on_failure(finished: list[Finished]) -> None:
    """Record the batch in one transaction; if that fails, one run at a time, so a run that cannot be
    stored (a value the database refuses, a bug) ends as an ERROR of its own and its neighbours are kept.
    Losing Sentinel's own database is not such a failure: it goes up, and the claims are released."""
    try:
        record(finished)
        return
    except (OperationalError, InterfaceError):
        raise
    except Exception:
        if len(finished) > 1:
            log.warning("a batch of %d runs could not be recorded together; recording them one by one",
                        len(finished))
            for f in finished:
                _record_each_on_failure([f])
            return
    f = finished[0]
    log.exception("alert=%s execution=%s could not be recorded", f.alert.name, f.execution.pk)
    f.execution.status, f.execution.reason = ExecutionStatus.ERROR, _internal_error("recording its result failed")
    finish([f.execution])


def _internal_error(what: str) -> str:
    return (f"Sentinel failed on this alert ({what}); the worker log has the details. "
            "Other alerts are not affected.")


def _why_not_run(alert: Alert, execution: Execution, claim: Claim, running: Execution | None,
                 periods: dict, gaps: dict, waiting_since: datetime | None = None) -> tuple[str, str] | None:
    """The (status, reason) a claimed run ends with without querying, or None to query.

    Lateness counts from the alert's start in its datasource's spread window (the tick itself
    when there is none), and, for a batch that waited for a query slot, until it was first taken:
    neither the spread nor the wait makes a run MISSED. A run still waiting when its next tick is
    due is: its datasource cannot keep up under its cap, and waiting longer would only pile up."""
    now = timezone.now()
    if execution.attempts > MAX_ATTEMPTS:
        return ExecutionStatus.ERROR, f"Gave up after {MAX_ATTEMPTS} attempts: each run of this tick lost its worker."
    grace = grace_for(alert, periods)
    scheduled = claim == Claim.CLAIMED and execution.trigger == Trigger.SCHEDULE
    due = _due(alert, execution.scheduled_for, gaps) if scheduled else execution.scheduled_for
    late = (waiting_since or now) - due
    # A resumed execution started in time; its worker died. Finish it rather than call it missed.
    if scheduled and grace is not None and late > grace:
        since = "its tick" if due == execution.scheduled_for else f"its start in the spread (tick + " \
                f"{(due - execution.scheduled_for).total_seconds():.0f} s)"
        return ExecutionStatus.MISSED, (f"Started {late.total_seconds():.0f} s after {since}; the grace is "
                                        f"{grace.total_seconds():.0f} s.")
    if scheduled and waiting_since is not None:
        gap = _gap(alert, execution.scheduled_for, gaps)
        if gap is not None and now - due > max(gap, grace or gap):
            return ExecutionStatus.MISSED, (
                f"Waited for a query slot of datasource {alert.datasource.name} (at most "
                f"{alert.datasource.max_concurrent_queries} at once) from {waiting_since:%H:%M:%S} UTC until its "
                "next tick was due: the datasource does not keep up under its cap.")
    if running is not None:
        return ExecutionStatus.SKIPPED, (f"The run for {running.scheduled_for.isoformat()} (execution {running.pk}) "
                                         "is still running.")
    if not alert.datasource.enabled:
        return ExecutionStatus.SKIPPED, f"Datasource {alert.datasource.name} is disabled."
    return None


def _due(alert: Alert, tick: datetime, gaps: dict) -> datetime:
    """When the alert's run of `tick` is meant to start: the tick, plus its offset in the spread."""
    if not alert.datasource.spread_seconds:
        return tick
    return spread.slot_start(alert.pk, tick, alert.datasource.spread_seconds, _gap(alert, tick, gaps))


def _gap(alert: Alert, tick: datetime, gaps: dict) -> timedelta | None:
    if alert.schedule is None:
        return None
    if alert.schedule_id not in gaps:  # the alerts of a batch share their schedule
        gaps[alert.schedule_id] = spread.gap_after(alert.schedule, tick)
    return gaps[alert.schedule_id]


def _still_running(claimed, now: datetime) -> dict[int, Execution]:
    """For each alert, its earliest other execution that still holds a live lease (an overlap)."""
    others = (
        Execution.objects.filter(alert_id__in=[a.pk for a, _, _ in claimed], status=ExecutionStatus.RUNNING,
                                 lease_expires_at__gt=now)
        .exclude(pk__in=[e.pk for _, e, _ in claimed])
        .only("pk", "alert_id", "scheduled_for")
        .order_by("-scheduled_for")
    )
    return {e.alert_id: e for e in others}  # ordered latest first, so the earliest wins


def _renew_leases(executions: list[Execution], timeout: float) -> None:
    lease = timezone.now() + timedelta(seconds=timeout) + settings.SENTINEL_LEASE_MARGIN
    Execution.objects.filter(pk__in=[e.pk for e in executions], status=ExecutionStatus.RUNNING,
                             worker=WORKER).update(lease_expires_at=lease)


def _hand_back(rest: list[tuple[Alert, Execution, Claim]], why: str) -> list[int]:
    """Give back the runs this batch did not start, as if never claimed, for a new task to take."""
    fresh = [e.pk for _, e, claim in rest if claim == Claim.CLAIMED]
    resumed = [e.pk for _, e, claim in rest if claim == Claim.RESUMED]
    Execution.objects.filter(pk__in=fresh, status=ExecutionStatus.RUNNING).delete()
    # Resumed runs go back as they were: this attempt never began, so it does not count.
    Execution.objects.filter(pk__in=resumed, status=ExecutionStatus.RUNNING).update(
        lease_expires_at=timezone.now(), attempts=F("attempts") - 1)
    log.info("%s; %d run(s) handed back to the queue", why, len(rest))
    return [a.pk for a, _, _ in rest]


def _seconds_left(lease: datetime) -> float:
    return max(1.0, (lease - timezone.now()).total_seconds() + 1)


def release_claims(alert_ids: list[int], scheduled_for: datetime) -> int:
    """Let this worker's RUNNING executions of the tick be resumed at once: their run broke off
    (Sentinel's database dropped the connection), and waiting out the lease would skip the next ticks."""
    return Execution.objects.filter(
        alert_id__in=alert_ids, scheduled_for=scheduled_for, status=ExecutionStatus.RUNNING, worker=WORKER,
    ).update(lease_expires_at=timezone.now())


def reap_abandoned(now: datetime | None = None) -> list[int]:
    """Finish RUNNING executions nobody will finish: a lease that ran out long enough ago that the
    broker would have handed the message to another worker, or a queued API run never picked up."""
    now = now or timezone.now()
    abandoned = Execution.objects.filter(
        status=ExecutionStatus.RUNNING, lease_expires_at__lt=now - settings.SENTINEL_ABANDONED_AFTER)
    never_started = Execution.objects.filter(
        status=ExecutionStatus.RUNNING, lease_expires_at__isnull=True,
        started_at__lt=now - settings.SENTINEL_QUEUED_RUN_MAX_WAIT)
    reaped = []
    for executions, reason in [
        (abandoned, "Abandoned: its worker stopped mid-run and no other worker took it over."),
        (never_started, "Abandoned: queued but never picked up by a worker."),
    ]:
        for execution in executions:
            execution.status, execution.reason = ExecutionStatus.ERROR, reason
            reaped.append(execution)
    finish(reaped)
    return [e.pk for e in reaped]


def claim_ticks(alerts: list[Alert], scheduled_for: datetime, trigger: str,
                task_id: str = "") -> list[tuple[Claim, Execution]]:
    """Claim the tick for each alert, in one insert when nobody else has any of them."""
    now = timezone.now()
    by_id = {alert.pk: alert for alert in alerts}
    existing = {e.alert_id: e for e in Execution.objects.filter(alert_id__in=by_id, scheduled_for=scheduled_for)}
    for e in existing.values():
        e.alert = by_id[e.alert_id]
    fresh = [
        Execution(alert=alert, scheduled_for=scheduled_for, trigger=trigger, status=ExecutionStatus.RUNNING,
                  started_at=now, lease_expires_at=lease_until(alert, now), worker=WORKER, task_id=task_id)
        for alert in alerts if alert.pk not in existing
    ]
    try:
        with transaction.atomic():
            Execution.objects.bulk_create(fresh)
    except IntegrityError:
        # Another worker claimed some of them since the look above (a redelivered message): one by one.
        return [claim_tick(alert, scheduled_for, trigger, task_id) for alert in alerts]
    claims = {e.alert_id: (Claim.CLAIMED, e) for e in fresh}
    claims.update({pk: _take_over(e, now, task_id) for pk, e in existing.items()})
    return [claims[alert.pk] for alert in alerts]


def claim_tick(alert: Alert, scheduled_for: datetime, trigger: str, task_id: str = "") -> tuple[Claim, Execution]:
    now = timezone.now()
    try:
        with transaction.atomic():
            execution = Execution.objects.create(
                alert=alert, scheduled_for=scheduled_for, trigger=trigger, status=ExecutionStatus.RUNNING,
                started_at=now, lease_expires_at=lease_until(alert, now), worker=WORKER, task_id=task_id,
            )
            return Claim.CLAIMED, execution
    except IntegrityError:
        execution = Execution.objects.get(alert=alert, scheduled_for=scheduled_for)
        execution.alert = alert
        return _take_over(execution, now, task_id)


def _take_over(execution: Execution, now: datetime, task_id: str) -> tuple[Claim, Execution]:
    """The tick is claimed already. Take it over only if its lease ran out (its worker died)."""
    if execution.status != ExecutionStatus.RUNNING:
        return Claim.DONE, execution
    alert = execution.alert
    resumed = Execution.objects.filter(pk=execution.pk, status=ExecutionStatus.RUNNING, lease_expires_at__lt=now).update(
        lease_expires_at=lease_until(alert, now), attempts=F("attempts") + 1, worker=WORKER, task_id=task_id,
        started_at=now)
    execution.refresh_from_db()
    execution.alert = alert  # refresh_from_db drops the cached alert
    if resumed == 1:
        log.warning("execution %s of %s resumed: its previous worker stopped mid-run", execution.pk, alert.name)
        return Claim.RESUMED, execution
    return (Claim.BUSY if execution.status == ExecutionStatus.RUNNING else Claim.DONE), execution


def lease_until(alert: Alert, now: datetime) -> datetime:
    return now + timedelta(seconds=alert.datasource.timeout_seconds) + settings.SENTINEL_LEASE_MARGIN


def grace_for(alert: Alert, periods: dict | None = None) -> timedelta | None:
    """How late a scheduled run may start: the alert's grace, else half its period, at most 5 minutes."""
    if alert.grace is not None:
        return alert.grace
    if alert.schedule is None:
        return None
    periods = {} if periods is None else periods  # the alerts of a batch share their schedule
    if alert.schedule_id not in periods:
        periods[alert.schedule_id] = alert.schedule.period()
    period = periods[alert.schedule_id]
    return min(period / 2, timedelta(minutes=5)) if period else None


def query_and_evaluate(alert: Alert, tick: datetime) -> tuple[QueryResult | None, Evaluation, str]:
    """The alert's answer at `tick` (its tick parameters bound, alerts/ticks.py), or its failure as an
    ERROR or TIMEOUT: never an exception, so one alert's bad query (or a bug it meets) cannot stop the
    rest of its batch."""
    try:
        result = run_query(alert.datasource, alert.query, params=ticks.params_for(alert, tick))
        evaluation = evaluate(Rule.of(alert), result.columns, result.rows)
    except QueryTimeout as exc:
        return None, _failed(str(exc)), ExecutionStatus.TIMEOUT
    except QueryError as exc:
        return None, _failed(str(exc)), ExecutionStatus.ERROR
    except Exception as exc:
        # The traceback goes to the log (and Sentry, which scrubs it); the execution says only what kind.
        log.exception("alert=%s alert_id=%s failed unexpectedly", alert.name, alert.pk)
        return None, _failed(_internal_error(type(exc).__name__)), ExecutionStatus.ERROR
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


def _dry_run(alert: Alert, tick: datetime) -> DryRun:
    """The run of `tick` without recording it: "now" for a test, or a rerun of a past tick."""
    result, evaluation, status = query_and_evaluate(alert, tick)
    known = {s.key: s for s in AlertState.objects.filter(alert=alert)}
    policy, now, silenced = Policy.of(alert), timezone.now(), alert.is_silenced()
    transitions = {
        o.key: transition(instance_of(known.get(o.key)), o.kind, policy, now, silenced)
        for o in outcomes_for(evaluation, known)
    }
    return DryRun(result, evaluation, status, transitions, ticks.binding_if_used(alert, tick))
