"""Instances written on change: a run writes an instance's row only when it changes the instance,
and everything people are told (messages, states, firing counts, last values) stays what it was."""

import re
import sqlite3
from datetime import datetime, timedelta, timezone as tz
from itertools import product

import pytest
from django.db import connection
from django.db.models import F
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from alerts import runner
from alerts.models import AlertState, Notification, State, Trigger
from alerts.recording import RESTING
from alerts.states import InstanceState, Policy, transition

pytestmark = pytest.mark.django_db(transaction=True)

T0 = datetime(2026, 12, 1, 9, 0, tzinfo=tz.utc)
WRITE = re.compile(r'\b(UPDATE|INSERT INTO)\s+"alerts_alertstate"', re.IGNORECASE)


@pytest.fixture
def readings(tmp_path):
    """A datasource with one reading per host; the alert fires for a host whose value is above 10."""
    path = tmp_path / "readings.sqlite3"
    with sqlite3.connect(path) as conn:
        conn.execute("CREATE TABLE readings (key TEXT PRIMARY KEY, value INTEGER)")
        conn.executemany("INSERT INTO readings VALUES (?, ?)", [("db1", 1), ("db2", 2), ("db3", 3)])

    def run_sql(sql, *args):
        with sqlite3.connect(path) as conn:
            conn.execute(sql, args)

    return f"sqlite:///{path}", run_sql


@pytest.fixture
def hosts(readings, make_datasource, make_alert, log_channel):
    url, run_sql = readings
    alert = make_alert(make_datasource(url), "SELECT key, value FROM readings", mode="threshold", operator=">",
                       threshold=10, channels=[log_channel])
    ticks = iter(T0 + timedelta(minutes=m) for m in range(1000))

    def run():
        """One run; returns the statements that wrote instance rows."""
        with CaptureQueriesContext(connection) as queries:
            execution = runner.run(alert, next(ticks), Trigger.MANUAL)
        assert execution is not None and execution.status in ("OK", "ALERT")
        return [q["sql"] for q in queries.captured_queries if WRITE.search(q["sql"])]

    return alert, run, run_sql


def rows(alert):
    return {s.key: s for s in AlertState.objects.filter(alert=alert)}


def events(alert):
    return list(Notification.objects.filter(alert=alert).order_by("id").values_list("instance_key", "event"))


def a_while_passes(alert, seconds):
    """Stand for time between runs: every instance was written `seconds` earlier, and notified then."""
    AlertState.objects.filter(alert=alert).update(updated_at=F("updated_at") - timedelta(seconds=seconds))
    AlertState.objects.filter(alert=alert, last_notified_at__isnull=False).update(
        last_notified_at=F("last_notified_at") - timedelta(seconds=seconds))


def test_a_run_in_which_nothing_changed_writes_no_instance_row(hosts):
    alert, run, run_sql = hosts
    run_sql("UPDATE readings SET value = 50 WHERE key = 'db2'")
    assert run()  # the first run creates the three instances
    before = {k: (s.updated_at, s.last_execution_id) for k, s in rows(alert).items()}

    assert run() == []
    assert run() == []
    assert {k: (s.updated_at, s.last_execution_id) for k, s in rows(alert).items()} == before
    alert.refresh_from_db()
    assert (alert.state, alert.firing_instances) == (State.FIRING, 1)
    assert events(alert) == [("db2", "firing")]


def test_an_alert_without_keys_writes_its_instance_only_when_it_changes(sqlite_db, make_datasource, make_alert):
    url, _ = sqlite_db
    alert = make_alert(make_datasource(url), "SELECT 3 AS value", mode="threshold", threshold=10)
    runner.run(alert, T0, Trigger.MANUAL)
    with CaptureQueriesContext(connection) as queries:
        runner.run(alert, T0 + timedelta(minutes=1), Trigger.MANUAL)
    assert not [q for q in queries.captured_queries if WRITE.search(q["sql"])]
    assert AlertState.objects.get(alert=alert).state == State.OK


def test_a_key_that_changes_is_written_and_notified_once(hosts):
    alert, run, run_sql = hosts
    run()
    run_sql("UPDATE readings SET value = 42 WHERE key = 'db3'")
    writes = run()

    assert len(writes) == 1
    db3 = rows(alert)["db3"]
    assert (db3.state, db3.last_value) == (State.FIRING, 42)
    assert db3.last_execution == alert.executions.order_by("-scheduled_for").first()
    assert run() == [] and run() == []  # still firing, nothing new: no write, no second message
    assert events(alert) == [("db3", "firing")]
    alert.refresh_from_db()
    assert (alert.state, alert.firing_instances) == (State.FIRING, 1)


def test_a_key_missing_from_the_answer_still_recovers_and_says_so(hosts):
    alert, run, run_sql = hosts
    run_sql("UPDATE readings SET value = 99 WHERE key IN ('db1', 'db2')")
    run()
    run_sql("DELETE FROM readings WHERE key = 'db1'")
    run()
    run()

    assert events(alert) == [("db1", "firing"), ("db2", "firing"), ("db1", "resolved")]
    assert {k: s.state for k, s in rows(alert).items()} == {"db1": State.OK, "db2": State.FIRING, "db3": State.OK}
    alert.refresh_from_db()
    assert (alert.state, alert.firing_instances) == (State.FIRING, 1)
    run_sql("UPDATE readings SET value = 1 WHERE key = 'db2'")
    run()
    alert.refresh_from_db()
    assert (alert.state, alert.firing_instances) == (State.OK, 0)
    assert events(alert)[-1] == ("db2", "resolved")


def test_repeats_still_go_out_when_the_renotify_interval_has_passed(hosts):
    alert, run, run_sql = hosts
    alert.renotify_interval = timedelta(hours=1)
    alert.save()
    run_sql("UPDATE readings SET value = 77 WHERE key = 'db1'")
    run()
    assert run() == []  # within the hour: nothing to say, nothing to write
    a_while_passes(alert, 3601)
    assert len(run()) == 1  # the repeat moves last_notified_at: that instance's row is written
    assert run() == []
    assert events(alert) == [("db1", "firing"), ("db1", "repeat")]
    assert rows(alert)["db1"].last_notified_at > rows(alert)["db1"].since


def test_a_pending_instance_is_written_while_it_counts_then_rests_while_it_fires(hosts):
    alert, run, run_sql = hosts
    alert.pending_evaluations = 3
    alert.save()
    run()
    run_sql("UPDATE readings SET value = 20 WHERE key = 'db1'")
    assert len(run()) == 1 and rows(alert)["db1"].state == State.PENDING
    assert len(run()) == 1 and rows(alert)["db1"].breaches == 2
    assert len(run()) == 1 and rows(alert)["db1"].state == State.FIRING
    assert run() == [] and run() == []
    db1 = rows(alert)["db1"]
    assert (db1.state, db1.breaches) == (State.FIRING, 3)  # the count stops where it decided FIRING
    assert events(alert) == [("db1", "firing")]


def test_an_instance_at_rest_that_moves_keeps_what_its_row_held(hosts):
    """An OK instance is read as its key alone; once a run moves it, it moves from its own row."""
    alert, run, run_sql = hosts
    run_sql("UPDATE readings SET value = 30 WHERE key = 'db1'")
    run()
    run_sql("UPDATE readings SET value = 1 WHERE key = 'db1'")
    run()
    told_at = rows(alert)["db1"].last_notified_at
    assert told_at is not None and rows(alert)["db1"].state == State.OK

    alert.silence(timezone.now() + timedelta(hours=1), "maintenance", by="test")
    run_sql("UPDATE readings SET value = 30 WHERE key = 'db1'")
    run()
    db1 = rows(alert)["db1"]
    assert (db1.state, db1.announced, db1.last_notified_at) == (State.FIRING, False, told_at)
    assert events(alert) == [("db1", "firing"), ("db1", "resolved"), ("db1", "firing")]
    assert Notification.objects.filter(alert=alert).order_by("id").last().status == "suppressed"


def test_the_last_value_shown_follows_the_documented_rule(hosts, settings):
    """Written with every change; while an instance is not OK, a moved value also at most every
    SENTINEL_INSTANCE_VALUE_SECONDS; an OK instance keeps the value of the run that last changed it."""
    alert, run, run_sql = hosts
    settings.SENTINEL_INSTANCE_VALUE_SECONDS = 300
    run_sql("UPDATE readings SET value = 40 WHERE key = 'db1'")
    run()
    run_sql("UPDATE readings SET value = value + 1")
    a_while_passes(alert, -5)  # written "just now" whatever the clock says: no refresh moment since
    assert run() == []  # db1 fires at 41 now, but was written a moment ago; db2, db3 are OK
    assert {k: s.last_value for k, s in rows(alert).items()} == {"db1": 40, "db2": 2, "db3": 3}

    a_while_passes(alert, 301)
    assert len(run()) == 1  # db1's refresh is due; the OK instances stay as they were
    assert {k: s.last_value for k, s in rows(alert).items()} == {"db1": 41, "db2": 2, "db3": 3}
    a_while_passes(alert, 301)
    assert run() == []  # due, but the value did not move

    settings.SENTINEL_INSTANCE_VALUE_SECONDS = 0  # every run writes a value that moved
    run_sql("UPDATE readings SET value = value + 1")
    assert len(run()) == 1
    assert rows(alert)["db1"].last_value == 42
    assert events(alert) == [("db1", "firing")]


def test_the_admin_says_when_an_instance_value_was_taken(hosts, admin_client):
    alert, run, run_sql = hosts
    run()
    written = rows(alert)["db2"].updated_at
    html = admin_client.get(f"/admin/alerts/alert/{alert.pk}/change/").content.decode()
    assert "Last value" in html
    assert f"2 (as of {written.astimezone(tz.utc):%Y-%m-%d %H:%M:%S} UTC)" in html


def test_the_state_machine_decides_an_instance_at_rest_by_the_outcome_kind_alone():
    """The recorder reads instances at rest as keys alone and moves them through one stand-in: that
    holds only while the machine reads their times just to carry them over."""
    now = datetime(2026, 12, 1, 9, 0, tzinfo=tz.utc)
    rests = [RESTING, InstanceState(State.OK, now - timedelta(days=3)),
             InstanceState(State.OK, now - timedelta(hours=1), last_notified_at=now - timedelta(hours=2))]
    policies = [Policy(), Policy(pending_evaluations=3), Policy(renotify_interval=timedelta(minutes=1)),
                Policy(notify_on_recovery=False), Policy(on_no_data="keep", on_error="keep"),
                Policy(on_no_data="ok", on_error="alerting")]
    for kind, policy, silenced in product(["OK", "BREACH", "NO_DATA", "ERROR"], policies, [False, True]):
        stays = {transition(rest, kind, policy, now, silenced).state == rest for rest in rests}
        notices = {transition(rest, kind, policy, now, silenced).notices for rest in rests}
        assert len(stays) == 1 and len(notices) == 1, (kind, policy, silenced)
