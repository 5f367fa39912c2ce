"""Per-entity alerts: each key is its own instance with its own state and messages."""

import json
import logging
import sqlite3
from datetime import datetime, timedelta, timezone as tz

import pytest

from alerts import runner
from alerts.models import AlertState, Notification, State, Trigger

pytestmark = pytest.mark.django_db(transaction=True)

T0 = datetime(2026, 11, 24, 9, 0, tzinfo=tz.utc)


@pytest.fixture
def stock(tmp_path):
    path = tmp_path / "stock.sqlite3"
    with sqlite3.connect(path) as conn:
        conn.execute("CREATE TABLE stock (warehouse TEXT PRIMARY KEY, units INTEGER)")
        conn.executemany("INSERT INTO stock VALUES (?, ?)", [("berlin", 50), ("paris", 50), ("madrid", 50)])

    def set_units(warehouse, units):
        with sqlite3.connect(path) as conn:
            conn.execute("UPDATE stock SET units = ? WHERE warehouse = ?", (units, warehouse))

    return f"sqlite:///{path}", set_units


def events(alert):
    return list(Notification.objects.filter(alert=alert).order_by("id").values_list("instance_key", "event", "status"))


def test_each_warehouse_fires_and_recovers_on_its_own(stock, make_datasource, make_alert, log_channel, caplog):
    notify_log = logging.getLogger("sentinel.notify")
    notify_log.addHandler(caplog.handler)  # "sentinel" does not propagate to the root logger
    caplog.set_level(logging.WARNING, logger="sentinel.notify")
    url, set_units = stock
    alert = make_alert(make_datasource(url), "SELECT warehouse AS key, units FROM stock", mode="threshold",
                       operator="<", threshold=10, channels=[log_channel])

    set_units("berlin", 3)
    runner.run(alert, T0, Trigger.MANUAL)
    set_units("paris", 4)
    runner.run(alert, T0 + timedelta(minutes=1), Trigger.MANUAL)
    set_units("berlin", 80)
    last = runner.run(alert, T0 + timedelta(minutes=2), Trigger.MANUAL)
    notify_log.removeHandler(caplog.handler)

    assert events(alert) == [("berlin", "firing", "sent"), ("paris", "firing", "sent"), ("berlin", "resolved", "sent")]
    states = dict(AlertState.objects.filter(alert=alert).values_list("key", "state"))
    assert states == {"berlin": State.OK, "paris": State.FIRING, "madrid": State.OK}
    alert.refresh_from_db()
    assert alert.state == State.FIRING and alert.firing_instances == 1
    assert last.state_after == State.FIRING
    # What the log channel printed: one line per instance event, each naming its instance and value.
    lines = [r.getMessage() for r in caplog.records if r.name == "sentinel.notify"]
    told = [json.loads(line[line.index("{"):]) for line in lines]
    assert [(t["instance"], t["event"], t["value"]) for t in told] == [
        ("berlin", "firing", 3), ("paris", "firing", 4), ("berlin", "resolved", 80)]


def test_rows_that_disappear_resolve_their_instance(tmp_path, make_datasource, make_alert, log_channel):
    path = tmp_path / "jobs.sqlite3"
    with sqlite3.connect(path) as conn:
        conn.execute("CREATE TABLE stuck (job TEXT)")
        conn.executemany("INSERT INTO stuck VALUES (?)", [("nightly-etl",), ("invoices",)])
    alert = make_alert(make_datasource(f"sqlite:///{path}"), "SELECT job FROM stuck", mode="rows",
                       key_columns="job", channels=[log_channel])

    runner.run(alert, T0, Trigger.MANUAL)
    with sqlite3.connect(path) as conn:
        conn.execute("DELETE FROM stuck")
    runner.run(alert, T0 + timedelta(minutes=1), Trigger.MANUAL)

    assert sorted(events(alert)) == sorted([
        ("nightly-etl", "firing", "sent"), ("invoices", "firing", "sent"),
        ("nightly-etl", "resolved", "sent"), ("invoices", "resolved", "sent"),
    ])
    alert.refresh_from_db()
    assert alert.state == State.OK and alert.firing_instances == 0
