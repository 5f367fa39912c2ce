"""What an alert would have done over past ticks: a backtest (docs/writing-alerts.md, Backtests).

For each tick of the alert's schedule in the span, its query runs bound to that tick, the rows are
evaluated, and the state machine (alerts/states.py, pending, repeat, recovery, no-data and error
policies) is replayed; the answer is a timeline: each tick's status, value, threshold and state,
when it would have fired and resolved, and the messages each channel would have received.

Choices, each so that a backtest is what the scheduled runs would have recorded had they run at
every tick, on time, over the same data (tests/test_backtest.py holds it to that):
- The binding comes from the backtest's own ticks, not from recorded executions: every tick
  queries, so :window_start is the previous backtest tick (for the first, the schedule's tick
  before it, as for an alert's first run) and :last_success the latest earlier backtest tick that
  answered (NULL until one did). A backtest of an unsaved form and of a saved alert agree.
- The state machine starts empty (every instance OK, nothing notified), not from today's state:
  the state at a past moment is not stored, and an empty start makes a backtest repeatable.
  A problem already open at the start of the span is announced at its first tick.
- The state machine's clock is the tick (a scheduled run records at its tick plus its lag), and no
  silence applies: past silences are not stored, so messages are what channels would have got.

Bounded: at most SENTINEL_BACKTEST_MAX_TICKS ticks (refused before any query), each query within
its datasource's timeout, SENTINEL_BACKTEST_MAX_SECONDS in all, and cancellable: the cancel flag
is read between ticks, at most once a second. Nothing is recorded as an execution, nothing is
sent, no state changes: the only row written is the Backtest itself (its progress and result).
"""

import logging
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.conf import settings
from django.core.exceptions import ValidationError
from django.utils import timezone

from . import dispatch, tick_parameters
from . import evaluation as ev
from .durations import DurationError, parse_duration
from .evaluation import Evaluation, Outcome, Rule, evaluate
from .models import Alert, Backtest, BacktestStatus, Channel, Datasource, ExecutionStatus, State
from .querying import QueryError, QueryTimeout, run_query
from .recording import outcomes_for, worst
from .states import InstanceState, Policy, transition
from .ticks import SUCCEEDED, Binding

log = logging.getLogger("sentinel.backtest")

DEFINITION_FIELDS = ("name", "severity", "query", "mode", "value_column", "operator", "threshold", "key_columns",
                     "pending_evaluations", "notify_on_recovery", "on_no_data", "on_error")
CHART_POINTS = 600  # a week of minutely ticks is 10,080: the chart keeps each bucket's highest value
PROGRESS_SECONDS = 1.0  # progress written and the cancel flag read at most this often
KEEP_FINISHED = timedelta(days=7)  # finished backtests older than this go when a new one starts
_JUST_BEFORE = timedelta(microseconds=1)


class Refused(ValueError):
    """A backtest that cannot run as asked; the message says why and what to do."""


# --- what is replayed -------------------------------------------------------------------------


def definition_of(alert: Alert, channels) -> dict:
    """The alert as a backtest replays it (a saved alert as it is now, or an unsaved form), in JSON."""
    definition = {name: getattr(alert, name) for name in DEFINITION_FIELDS}
    interval = alert.renotify_interval
    schedule = alert.schedule
    definition.update(
        renotify_seconds=interval.total_seconds() if interval is not None else None,
        datasource_id=alert.datasource_id,
        schedule=None if schedule is None else {"cron": schedule.cron, "interval_seconds": schedule.interval_seconds,
                                                "timezone": schedule.timezone},
        channel_ids=sorted(c.pk for c in channels),
    )
    return definition


def alert_from(definition: dict) -> tuple[Alert, list[Channel]]:
    """An unsaved Alert (pk None: it has no history) and its channels, from definition_of's answer."""
    from schedules.models import Schedule

    alert = Alert(**{name: definition[name] for name in DEFINITION_FIELDS})
    seconds = definition.get("renotify_seconds")
    alert.renotify_interval = timedelta(seconds=seconds) if seconds is not None else None
    alert.datasource = Datasource.objects.get(pk=definition["datasource_id"])
    timing = definition.get("schedule")
    alert.schedule = Schedule(**timing) if timing else None
    channels = list(Channel.objects.filter(pk__in=definition.get("channel_ids", [])).order_by("name"))
    return alert, channels


# --- which ticks --------------------------------------------------------------------------------


def span(*, since: str | None = None, start: datetime | None = None, end: datetime | None = None,
         now: datetime | None = None) -> tuple[datetime, datetime]:
    """(start, end) in UTC from `since` ('7d': the last seven days) or from start and end (end
    defaults to now). The span ends at now at the latest: a backtest replays ticks that came."""
    now = now or timezone.now()
    if since is not None:
        if start is not None:
            raise Refused("Give either since or start (and end), not both.")
        try:
            start = now - parse_duration(since)
        except DurationError as exc:
            raise Refused(f"since: {exc}") from None
    if start is None:
        raise Refused("Say which span to replay: since (e.g. 7d), or start and end (ISO 8601).")
    end = min(end or now, now)
    if start >= end:
        raise Refused(f"The span must start before it ends (and before now): start {start:%Y-%m-%d %H:%M:%S}, "
                      f"end {end:%Y-%m-%d %H:%M:%S} UTC.")
    return start, end


def ticks_between(schedule, start: datetime, end: datetime) -> list[datetime]:
    """The schedule's ticks from start to end (both included), UTC, from beat's arithmetic;
    refused past SENTINEL_BACKTEST_MAX_TICKS, before any query runs."""
    if schedule is None:
        raise Refused("The alert has no schedule: a backtest replays the ticks of its schedule.")
    budget = settings.SENTINEL_BACKTEST_MAX_TICKS
    found = schedule.ticks(start - _JUST_BEFORE, limit=budget + 1, until=end)
    if len(found) > budget:
        raise Refused(f"The span holds more than {budget:,} ticks of the schedule ({schedule}); a backtest "
                      f"replays at most {budget:,} (SENTINEL_BACKTEST_MAX_TICKS): choose a shorter span.")
    if not found:
        raise Refused(f"The schedule ({schedule}) has no tick between {start:%Y-%m-%d %H:%M:%S} and "
                      f"{end:%Y-%m-%d %H:%M:%S} UTC.")
    return found


def _tick_before(schedule, tick: datetime) -> datetime:
    """The first window's start: the schedule's tick before the first, as for an alert's first run."""
    try:
        return schedule.latest_tick(tick - _JUST_BEFORE)
    except ValidationError:  # no tick in four years before it
        return tick - timedelta(days=1)


# --- the replay ----------------------------------------------------------------------------------


@dataclass
class Timeline:
    alert: str
    channels: list[str]
    ticks: list[dict] = field(default_factory=list)  # per tick: tick, status, value, threshold, state, firing, ms
    events: list[dict] = field(default_factory=list)  # per message-worthy moment: tick, key, event
    messages: dict[str, dict[str, int]] = field(default_factory=dict)  # channel -> event -> count
    query_ms: float = 0.0
    wall_ms: float = 0.0
    stopped: str = ""  # why it stopped before the last tick ("" when it replayed them all)

    def summary(self) -> dict:
        by_status: dict[str, int] = {}
        for point in self.ticks:
            by_status[point["status"]] = by_status.get(point["status"], 0) + 1
        kinds = [e["event"] for e in self.events]
        return {
            "ticks": len(self.ticks), "by_status": by_status,
            "fired": kinds.count("firing"), "resolved": kinds.count("resolved"),
            "messages": self.messages, "messages_total": sum(sum(m.values()) for m in self.messages.values()),
            "first_tick": self.ticks[0]["tick"] if self.ticks else None,
            "last_tick": self.ticks[-1]["tick"] if self.ticks else None,
            "final_state": self.ticks[-1]["state"] if self.ticks else None,
            "query_ms": round(self.query_ms, 1), "wall_ms": round(self.wall_ms, 1), "stopped": self.stopped,
        }

    def as_dict(self) -> dict:
        return {"alert": self.alert, "channels": self.channels, "summary": self.summary(), "events": self.events,
                "chart": chart(self.ticks), "timeline": self.ticks}


def replay(alert: Alert, channels, tick_list: list[datetime], keep_going=None) -> Timeline:
    """Run the alert's query for each tick, evaluate it and replay the state machine from an empty
    state. `keep_going(done)` is asked between ticks; False stops the replay there."""
    started = time.monotonic()
    policy, rule = Policy.of(alert), Rule.of(alert)
    binds = bool(tick_parameters.used(alert.query or ""))
    names = [c.name for c in channels if c.enabled]
    timeline = Timeline(alert.name, names, messages={name: {} for name in names})
    instances: dict[str, InstanceState] = {}
    previous, last_success = (_tick_before(alert.schedule, tick_list[0]) if tick_list else None), None
    for done, tick in enumerate(tick_list):
        if done and keep_going is not None and not keep_going(done):
            timeline.stopped = f"stopped after {done} of {len(tick_list)} ticks"
            break
        binding = Binding(tick, previous, tick, last_success) if binds else None
        evaluation, status, ms = answer(alert, rule, binding)
        timeline.query_ms += ms
        for outcome in outcomes_for(evaluation, instances):
            moved = transition(instances.get(outcome.key, InstanceState()), outcome.kind, policy, tick, False)
            instances[outcome.key] = moved.state
            for notice in moved.notices:
                timeline.events.append({"tick": tick.isoformat(), "key": outcome.key, "event": notice.event})
                for name in names:
                    counts = timeline.messages[name]
                    counts[notice.event] = counts.get(notice.event, 0) + 1
        previous = tick
        if status in SUCCEEDED:
            last_success = tick
        point = {"tick": tick.isoformat(), "status": status, "value": evaluation.value,
                 "threshold": evaluation.threshold, "state": worst(s.state for s in instances.values()),
                 "firing": sum(1 for s in instances.values() if s.state == State.FIRING), "ms": round(ms, 2)}
        if evaluation.error:
            point["error"] = evaluation.error
        timeline.ticks.append(point)
    timeline.wall_ms = (time.monotonic() - started) * 1000
    return timeline


def answer(alert: Alert, rule: Rule, binding: Binding | None) -> tuple[Evaluation, str, float]:
    """(evaluation, execution status, query ms) of one tick; a failure is an ERROR or TIMEOUT
    outcome, as a scheduled run records it, never an exception."""
    started = time.monotonic()
    try:
        result = run_query(alert.datasource, alert.query, params=binding.values() if binding else None)
        evaluation = evaluate(rule, result.columns, result.rows)
        status = None
    except QueryTimeout as exc:
        evaluation, status = _failed(str(exc)), ExecutionStatus.TIMEOUT
    except QueryError as exc:
        evaluation, status = _failed(str(exc)), ExecutionStatus.ERROR
    ms = (time.monotonic() - started) * 1000
    if status is None:
        kinds = {o.kind for o in evaluation.outcomes}
        status = (ExecutionStatus.ERROR if ev.ERROR in kinds else ExecutionStatus.ALERT if ev.BREACH in kinds
                  else ExecutionStatus.NO_DATA if kinds == {ev.NO_DATA} else ExecutionStatus.OK)
    return evaluation, status, ms


def _failed(message: str) -> Evaluation:
    return Evaluation([Outcome(ev.ERROR, message=message)], message=message)


def chart(points: list[dict], most: int = CHART_POINTS) -> list[dict]:
    """Value and threshold against time, at most `most` points: consecutive ticks share a point,
    which keeps their highest value (a spike stays visible) and the latest threshold."""
    numeric = [p for p in points if _number(p["value"]) is not None or _number(p["threshold"]) is not None]
    size = max(1, -(-len(numeric) // most))
    out = []
    for i in range(0, len(numeric), size):
        bucket = numeric[i:i + size]
        values = [v for v in (_number(p["value"]) for p in bucket) if v is not None]
        out.append({"tick": bucket[-1]["tick"], "value": max(values) if values else None,
                    "threshold": _number(bucket[-1]["threshold"])})
    return out


def _number(value) -> float | None:
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None


# --- a Backtest row: started by a face, run by a worker on the "backtests" queue -----------------


def start(alert: Alert, channels, start_at: datetime, end_at: datetime, *, saved: Alert | None = None,
          by: str = "") -> Backtest:
    """Record the backtest asked for and queue it (after commit) on its own queue; refused at once
    when its span holds no tick or too many."""
    total = len(ticks_between(alert.schedule, start_at, end_at))
    Backtest.objects.filter(finished_at__lt=timezone.now() - KEEP_FINISHED).delete()
    row = Backtest.objects.create(alert=saved, name=alert.name, definition=definition_of(alert, channels),
                                  start=start_at, end=end_at, ticks_total=total, requested_by=by[:200])
    dispatch.run_backtest(row.pk)
    return row


def run(backtest_id: int) -> None:
    """Run a queued backtest (the task's work): claim it, replay, store the result. A backtest that
    someone else claimed, or that was cancelled while queued, is left alone."""
    now = timezone.now()
    if Backtest.objects.filter(pk=backtest_id, status=BacktestStatus.QUEUED).update(
            status=BacktestStatus.RUNNING, started_at=now, updated_at=now) != 1:
        return
    row = Backtest.objects.get(pk=backtest_id)
    deadline = time.monotonic() + settings.SENTINEL_BACKTEST_MAX_SECONDS
    beat = {"at": time.monotonic(), "late": False}

    def keep_going(done: int) -> bool:
        if time.monotonic() > deadline:
            beat["late"] = True
            return False
        if time.monotonic() - beat["at"] < PROGRESS_SECONDS:
            return True
        beat["at"] = time.monotonic()
        # One conditional write: the progress, unless a cancel was asked for.
        return Backtest.objects.filter(pk=backtest_id, cancel_requested=False).update(
            ticks_done=done, updated_at=timezone.now()) == 1

    status, error, result = BacktestStatus.DONE, "", None
    try:
        alert, channels = alert_from(row.definition)
        tick_list = ticks_between(alert.schedule, row.start, row.end)
        timeline = replay(alert, channels, tick_list, keep_going)
        result = timeline.as_dict()
        if timeline.stopped:
            status = BacktestStatus.FAILED if beat["late"] else BacktestStatus.CANCELLED
            error = (f"Stopped after {settings.SENTINEL_BACKTEST_MAX_SECONDS} s (SENTINEL_BACKTEST_MAX_SECONDS): "
                     "choose a shorter span." if beat["late"] else "")
    except (Refused, Datasource.DoesNotExist) as exc:
        status, error = BacktestStatus.FAILED, str(exc) or "Its datasource was deleted."
    except Exception as exc:
        log.exception("backtest=%s failed unexpectedly", backtest_id)
        status, error = BacktestStatus.FAILED, (f"Sentinel failed on this backtest ({type(exc).__name__}); "
                                                "the worker log has the details.")
    done = len(result["timeline"]) if result else 0
    Backtest.objects.filter(pk=backtest_id).update(status=status, error=error, result=result, ticks_done=done,
                                                   finished_at=timezone.now(), updated_at=timezone.now())
    log.info("backtest=%s alert=%s status=%s ticks=%d", backtest_id, row.name, status, done)


def cancel(row: Backtest) -> Backtest:
    """Ask a backtest to stop: a queued one ends now; a running one at its next look between ticks
    (within a second, or the query it is waiting for)."""
    now = timezone.now()
    Backtest.objects.filter(pk=row.pk, status=BacktestStatus.QUEUED).update(
        status=BacktestStatus.CANCELLED, cancel_requested=True, finished_at=now, updated_at=now)
    Backtest.objects.filter(pk=row.pk, status=BacktestStatus.RUNNING).update(cancel_requested=True)
    row.refresh_from_db()
    return row


def describe(row: Backtest, now: datetime | None = None) -> dict:
    """What the faces show of a backtest: its progress and, once it ended, its result."""
    now = now or timezone.now()
    status = row.status
    # A worker that died mid-backtest never writes again: say so instead of "running" forever.
    silent = timedelta(seconds=settings.SENTINEL_QUERY_TIMEOUT_MAX + 120)
    if status == BacktestStatus.RUNNING and now - row.updated_at > silent:
        status, row.error = "abandoned", "Its worker stopped answering; start it again."
    return {
        "id": row.pk, "alert": row.name, "saved": row.alert_id is not None, "status": status,
        "start": row.start, "end": row.end, "ticks_total": row.ticks_total, "ticks_done": row.ticks_done,
        "cancel_requested": row.cancel_requested, "error": row.error, "requested_by": row.requested_by,
        "created_at": row.created_at, "started_at": row.started_at, "finished_at": row.finished_at,
        "result": row.result,
    }
