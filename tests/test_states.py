"""The state machine as a table: (state before, outcome, policy, silenced) -> (state after, events)."""

from datetime import datetime, timedelta, timezone as tz

import pytest

from alerts.states import InstanceState, Notice, Policy, transition

NOW = datetime(2026, 11, 24, 9, 0, tzinfo=tz.utc)
EARLIER = NOW - timedelta(hours=2)

OK_ = InstanceState("OK", EARLIER)
PENDING = InstanceState("PENDING", EARLIER, breaches=1)
FIRING = InstanceState("FIRING", EARLIER, breaches=3, firing_open=True, announced=True, last_notified_at=EARLIER)
FIRING_SILENCED = InstanceState("FIRING", EARLIER, breaches=3, firing_open=True, announced=False)
NO_DATA = InstanceState("NO_DATA", EARLIER, announced=True)
ERROR = InstanceState("ERROR", EARLIER, announced=True)
ERROR_SILENCED = InstanceState("ERROR", EARLIER, announced=False)  # its `error` was suppressed
NO_DATA_SILENCED = InstanceState("NO_DATA", EARLIER, announced=False)
ERROR_WHILE_FIRING = InstanceState("ERROR", EARLIER, firing_open=True, announced=True, last_notified_at=EARLIER)

DEFAULT = Policy()
PENDING_3 = Policy(pending_evaluations=3)
RENOTIFY_1H = Policy(renotify_interval=timedelta(hours=1))
NO_RECOVERY = Policy(notify_on_recovery=False)

# before, outcome, policy, silenced -> after, events ("!" marks a suppressed event)
TABLE = [
    (OK_, "OK", DEFAULT, False, "OK", []),
    (OK_, "BREACH", DEFAULT, False, "FIRING", ["firing"]),
    (OK_, "BREACH", DEFAULT, True, "FIRING", ["!firing"]),
    (OK_, "BREACH", PENDING_3, False, "PENDING", []),
    (PENDING, "BREACH", PENDING_3, False, "PENDING", []),
    (InstanceState("PENDING", EARLIER, breaches=2), "BREACH", PENDING_3, False, "FIRING", ["firing"]),
    (PENDING, "OK", PENDING_3, False, "OK", []),
    (FIRING, "BREACH", DEFAULT, False, "FIRING", []),
    (FIRING, "BREACH", RENOTIFY_1H, False, "FIRING", ["repeat"]),
    (FIRING, "BREACH", RENOTIFY_1H, True, "FIRING", []),
    (InstanceState("FIRING", EARLIER, 3, True, True, NOW - timedelta(minutes=30)), "BREACH", RENOTIFY_1H, False,
     "FIRING", []),
    (FIRING, "OK", DEFAULT, False, "OK", ["resolved"]),
    (FIRING, "OK", DEFAULT, True, "OK", ["!resolved"]),
    (FIRING, "OK", NO_RECOVERY, False, "OK", []),
    (FIRING_SILENCED, "BREACH", DEFAULT, False, "FIRING", ["firing"]),  # the silence ended, still firing
    (FIRING_SILENCED, "BREACH", DEFAULT, True, "FIRING", []),
    (FIRING_SILENCED, "OK", DEFAULT, False, "OK", []),  # nobody heard of it: nothing to resolve
    (OK_, "NO_DATA", DEFAULT, False, "NO_DATA", ["no_data"]),
    (NO_DATA, "NO_DATA", DEFAULT, False, "NO_DATA", []),
    (NO_DATA, "OK", DEFAULT, False, "OK", ["resolved"]),
    (OK_, "NO_DATA", Policy(on_no_data="ok"), False, "OK", []),
    (OK_, "NO_DATA", Policy(on_no_data="alerting"), False, "FIRING", ["firing"]),
    (FIRING, "NO_DATA", Policy(on_no_data="keep"), False, "FIRING", []),
    (FIRING, "NO_DATA", Policy(on_no_data="ok"), False, "OK", ["resolved"]),
    (OK_, "ERROR", DEFAULT, False, "ERROR", ["error"]),
    (OK_, "ERROR", DEFAULT, True, "ERROR", ["!error"]),
    (ERROR, "ERROR", DEFAULT, False, "ERROR", []),
    (ERROR, "OK", DEFAULT, False, "OK", ["resolved"]),
    (ERROR, "OK", NO_RECOVERY, False, "OK", []),
    (FIRING, "ERROR", DEFAULT, False, "ERROR", ["error"]),
    (ERROR_WHILE_FIRING, "BREACH", DEFAULT, False, "FIRING", []),  # the firing was told already
    (ERROR_WHILE_FIRING, "OK", DEFAULT, False, "OK", ["resolved"]),  # one resolved, not two
    (FIRING, "ERROR", Policy(on_error="keep"), False, "FIRING", []),
    (OK_, "ERROR", Policy(on_error="alerting"), False, "FIRING", ["firing"]),
    (FIRING, "ERROR", Policy(on_error="ok"), False, "OK", ["resolved"]),
    # errors and no data under a silence: suppressed, told once the silence ends, never a stray `resolved`
    (ERROR_SILENCED, "ERROR", DEFAULT, True, "ERROR", []),
    (ERROR_SILENCED, "ERROR", DEFAULT, False, "ERROR", ["error"]),  # the silence ended, still broken
    (ERROR_SILENCED, "OK", DEFAULT, False, "OK", []),  # nobody heard of it: nothing to resolve
    (ERROR_SILENCED, "OK", DEFAULT, True, "OK", []),
    (ERROR, "OK", DEFAULT, True, "OK", ["!resolved"]),
    (NO_DATA_SILENCED, "NO_DATA", DEFAULT, False, "NO_DATA", ["no_data"]),
    (NO_DATA_SILENCED, "OK", DEFAULT, False, "OK", []),
    (OK_, "NO_DATA", DEFAULT, True, "NO_DATA", ["!no_data"]),
    (ERROR, "NO_DATA", DEFAULT, False, "NO_DATA", ["no_data"]),
    (NO_DATA, "ERROR", DEFAULT, False, "ERROR", ["error"]),
    (FIRING, "NO_DATA", DEFAULT, False, "NO_DATA", ["no_data"]),
    (ERROR_WHILE_FIRING, "ERROR", DEFAULT, False, "ERROR", []),
    # PENDING meets the other outcomes and policies
    (PENDING, "NO_DATA", PENDING_3, False, "NO_DATA", ["no_data"]),
    (PENDING, "NO_DATA", Policy(pending_evaluations=3, on_no_data="keep"), False, "PENDING", []),
    (PENDING, "ERROR", PENDING_3, False, "ERROR", ["error"]),
    (PENDING, "ERROR", Policy(pending_evaluations=3, on_error="ok"), False, "OK", []),
    (InstanceState("PENDING", EARLIER, breaches=2), "BREACH", PENDING_3, True, "FIRING", ["!firing"]),
    # FIRING under the other policies
    (FIRING, "OK", NO_RECOVERY, True, "OK", []),
    (FIRING, "BREACH", PENDING_3, False, "FIRING", []),
    (FIRING, "NO_DATA", Policy(on_no_data="alerting"), False, "FIRING", []),
    (FIRING, "NO_DATA", Policy(on_no_data="alerting", renotify_interval=timedelta(hours=1)), False,
     "FIRING", ["repeat"]),
    (OK_, "ERROR", Policy(on_error="keep"), False, "OK", []),
    (OK_, "NO_DATA", Policy(on_no_data="keep"), False, "OK", []),
    (NO_DATA, "BREACH", DEFAULT, False, "FIRING", ["firing"]),
    (ERROR, "BREACH", PENDING_3, False, "PENDING", []),
]


def notices(events):
    return tuple(Notice(e.lstrip("!"), e.startswith("!")) for e in events)


@pytest.mark.parametrize("before, outcome, policy, silenced, after, events", TABLE,
                         ids=[f"{b.state}-{o}-{i}" for i, (b, o, *_rest) in enumerate(TABLE)])
def test_transition_table(before, outcome, policy, silenced, after, events):
    moved = transition(before, outcome, policy, NOW, silenced)
    assert (moved.state.state, moved.notices) == (after, notices(events))


def test_every_state_and_outcome_has_a_defined_result():
    for before in (OK_, PENDING, FIRING, FIRING_SILENCED, NO_DATA, ERROR, ERROR_WHILE_FIRING, ERROR_SILENCED,
                   NO_DATA_SILENCED):
        for outcome in ("OK", "BREACH", "NO_DATA", "ERROR"):
            for policy in (DEFAULT, PENDING_3, RENOTIFY_1H, NO_RECOVERY, Policy(on_no_data="keep", on_error="keep")):
                for silenced in (False, True):
                    moved = transition(before, outcome, policy, NOW, silenced)
                    assert moved.state.state in ("OK", "PENDING", "FIRING", "NO_DATA", "ERROR")
                    assert all(n.suppressed == silenced for n in moved.notices)
                    assert len(moved.notices) <= 1


def test_since_moves_only_when_the_state_changes():
    assert transition(FIRING, "BREACH", DEFAULT, NOW).state.since == EARLIER
    assert transition(FIRING, "OK", DEFAULT, NOW).state.since == NOW


def test_repeat_clock_restarts_at_each_reminder():
    first = transition(FIRING, "BREACH", RENOTIFY_1H, NOW).state
    second = transition(first, "BREACH", RENOTIFY_1H, NOW + timedelta(minutes=30))
    third = transition(second.state, "BREACH", RENOTIFY_1H, NOW + timedelta(minutes=61))
    assert first.last_notified_at == NOW and second.notices == () and third.notices == (Notice("repeat"),)
