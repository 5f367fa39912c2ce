"""The state machine: (state, outcome, policy, now, silenced) -> (new state, events).

Pure: no database, no clock. People hear about a problem once when it starts,
again only after the re-notify interval, and once when it resolves. A silence
suppresses delivery (events come back marked suppressed) but never the state.
"""

from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from . import evaluation as ev
from .models import ErrorPolicy, Event, NoDataPolicy, State


@dataclass(frozen=True)
class InstanceState:
    state: str = State.OK
    since: datetime | None = None
    breaches: int = 0
    firing_open: bool = False  # a firing event was recorded and has not been resolved
    # People were told of the open problem (the firing, or an error/no_data outside a firing),
    # i.e. it was not silenced; only then does its recovery send `resolved`.
    announced: bool = False
    last_notified_at: datetime | None = None


@dataclass(frozen=True)
class Policy:
    pending_evaluations: int = 1
    renotify_interval: timedelta | None = None
    notify_on_recovery: bool = True
    on_no_data: str = NoDataPolicy.NO_DATA
    on_error: str = ErrorPolicy.ERROR

    @classmethod
    def of(cls, alert) -> "Policy":
        return cls(
            alert.pending_evaluations,
            alert.renotify_interval,
            alert.notify_on_recovery,
            alert.on_no_data,
            alert.on_error,
        )


@dataclass(frozen=True)
class Notice:
    event: str
    suppressed: bool = False


@dataclass(frozen=True)
class Transition:
    state: InstanceState
    notices: tuple[Notice, ...] = ()


_NO_DATA_AS = {NoDataPolicy.OK: ev.OK, NoDataPolicy.ALERTING: ev.BREACH, NoDataPolicy.NO_DATA: ev.NO_DATA}
_ERROR_AS = {ErrorPolicy.OK: ev.OK, ErrorPolicy.ALERTING: ev.BREACH, ErrorPolicy.ERROR: ev.ERROR}


def effective_kind(kind: str, policy: Policy) -> str | None:
    """What the outcome counts as under the alert's policy; None means keep the last state."""
    if kind == ev.NO_DATA:
        return _NO_DATA_AS.get(policy.on_no_data)
    if kind == ev.ERROR:
        return _ERROR_AS.get(policy.on_error)
    return kind


def transition(prev: InstanceState, kind: str, policy: Policy, now: datetime, silenced: bool = False) -> Transition:
    kind = effective_kind(kind, policy)
    if kind is None:
        return Transition(prev)
    if kind == ev.OK:
        return _ok(prev, policy, now, silenced)
    if kind == ev.BREACH:
        return _breach(prev, policy, now, silenced)
    return _problem(prev, State.ERROR if kind == ev.ERROR else State.NO_DATA, now, silenced)


def _moved(prev: InstanceState, state: str, now: datetime, **changes) -> InstanceState:
    since = prev.since if prev.state == state and prev.since else now
    return replace(prev, state=state, since=since, **changes)


def _ok(prev, policy, now, silenced) -> Transition:
    notices = []
    if policy.notify_on_recovery and prev.announced:
        notices.append(Notice(Event.RESOLVED, silenced))
    new = _moved(prev, State.OK, now, breaches=0, firing_open=False, announced=False)
    return Transition(new, tuple(notices))


def _breach(prev, policy, now, silenced) -> Transition:
    # Counted up to pending_evaluations, the most that decides anything: a count that went on growing
    # would change every firing instance at every run, and so write its row every run.
    breaches = min(prev.breaches + 1, max(1, policy.pending_evaluations))
    if breaches < policy.pending_evaluations and not prev.firing_open:
        return Transition(_moved(prev, State.PENDING, now, breaches=breaches))
    new = _moved(prev, State.FIRING, now, breaches=breaches, firing_open=True)
    if not prev.firing_open:
        # The problem starts: one firing event, delivered unless silenced.
        return Transition(
            replace(new, announced=not silenced, last_notified_at=prev.last_notified_at if silenced else now),
            (Notice(Event.FIRING, silenced),),
        )
    if not silenced and not prev.announced:
        # It started under a silence that has ended and it still fires: tell people now.
        return Transition(replace(new, announced=True, last_notified_at=now), (Notice(Event.FIRING),))
    due = (
        policy.renotify_interval is not None
        and prev.last_notified_at is not None
        and now - prev.last_notified_at >= policy.renotify_interval
    )
    if due and not silenced:
        return Transition(replace(new, last_notified_at=now), (Notice(Event.REPEAT),))
    return Transition(new)


def _problem(prev, state, now, silenced) -> Transition:
    new = _moved(prev, state, now, breaches=0)
    event = Event.ERROR if state == State.ERROR else Event.NO_DATA
    if prev.state == state:
        if prev.firing_open or silenced or prev.announced:
            return Transition(new)
        # It started under a silence that has ended and the problem persists: tell people now.
        return Transition(replace(new, announced=True), (Notice(event),))
    if prev.firing_open:
        # `announced` keeps describing the open firing, which decides the later `resolved`.
        return Transition(new, (Notice(event, silenced),))
    return Transition(replace(new, announced=prev.announced or not silenced), (Notice(event, silenced),))
