"""Backtests (docs/writing-alerts.md, Backtests): what an alert would have done over past ticks is
what its scheduled runs recorded over the same span, tick by tick, message by message; the state
machine's pending, repeat and recovery are replayed; the tick budget refuses too long a span;
a cancel stops it; and nothing is recorded, sent or changed."""

import re
import sqlite3
from collections import Counter
from datetime import datetime, timedelta
from datetime import timezone as dt_timezone
from pathlib import Path

import pytest
from django.conf import settings
from django.contrib.auth.models import User

from alerts import backtest, runner
from alerts.models import Alert, AlertState, Backtest, BacktestStatus, Channel, Execution, Notification, Trigger
from alerts.querying import dispose_engines
from schedules.models import Schedule
from tests.api_helpers import admin_token, api, editor_api, reader_api  # noqa: F401 (fixtures)
from tests.factories import sentinel
from tests.test_admin_alerts import form_data

pytestmark = pytest.mark.django_db

UTC = dt_timezone.utc
DOC = Path(settings.BASE_DIR) / "docs" / "writing-alerts.md"
TICKS = [datetime(2026, 12, 1, 10, 0, tzinfo=UTC) + timedelta(minutes=5 * i) for i in range(1, 13)]  # 10:05 .. 11:00
# Events in each tick's window (the 5 minutes before it): PENDING, FIRING, resolved, twice, then a lone breach.
COUNTS = [0, 3, 4, 1, 0, 5, 5, 5, 0, 2, 3, 0]
SHOPS = "abab"  # the per-entity version: shop a and shop b each get part of every window's events


def events():
    for tick, count in zip(TICKS, COUNTS):
        for i in range(count):
            yield tick - timedelta(minutes=4) + timedelta(seconds=20 * i), SHOPS[i % len(SHOPS)]


def doc_example() -> str:
    """The SQL of the Backtests section's example (the page shows what this test runs)."""
    section = DOC.read_text().split("## Backtests", 1)[1].split("\n## ", 1)[0]
    return re.findall(r"```sql\n(.*?)```", section, re.S)[0]


PER_SHOP = ("SELECT shop AS key, CASE WHEN count(*) > 1 THEN 'ALERT' ELSE 'OK' END AS status, "
            "count(*) AS actual_value, 1 AS threshold FROM events "
            "WHERE created_at >= :window_start AND created_at < :window_end GROUP BY shop")


@pytest.fixture(params=[pytest.param("sqlite", id="sqlite"),
                        pytest.param("postgresql", marks=pytest.mark.needs_postgres, id="postgresql")])
def events_source(request, tmp_path, pg_table, make_datasource):
    """A datasource holding `events(created_at, shop)`, and the table's name in it."""
    if request.param == "sqlite":
        path = tmp_path / "events.sqlite3"
        with sqlite3.connect(path) as conn:
            conn.execute("CREATE TABLE events (created_at TEXT NOT NULL, shop TEXT NOT NULL)")
            conn.executemany("INSERT INTO events VALUES (?, ?)", [(f"{t:%Y-%m-%d %H:%M:%S}", s) for t, s in events()])
        source, table = make_datasource(f"sqlite:///{path}"), "events"
    else:
        table, execute = pg_table
        execute("CREATE TABLE {table} (created_at timestamptz NOT NULL, shop text NOT NULL)")
        for t, shop in events():
            execute(f"INSERT INTO {{table}} VALUES ('{t.isoformat()}', '{shop}')")
        source = make_datasource(request.getfixturevalue("pg_datasource_url"))
    dispose_engines()
    yield source, table
    dispose_engines()


@pytest.fixture
def every_5_minutes(db):
    return Schedule.objects.for_timing(cron="*/5 * * * *", timezone="UTC")


@pytest.fixture
def channels(db):
    return [Channel.objects.create(name="ops-log", kind="log"), Channel.objects.create(name="team-log", kind="log")]


def windowed_alert(make_alert, source, table, schedule, channels, sql=None, **settings_):
    sql = (sql or doc_example()).replace("FROM events", f"FROM {table}")
    # A grace of ten years: the scheduled runs below are of past ticks, and a late one would be MISSED.
    return make_alert(source, sql, schedule=schedule, channels=channels, grace=timedelta(days=3650),
                      pending_evaluations=2, **settings_)


def recorded_world(alert):
    return (Execution.objects.count(), Notification.objects.count(),
            sorted(AlertState.objects.values_list("alert_id", "key", "state", "breaches", "since")),
            Alert.objects.values_list("state", "last_run_at", "last_value").get(pk=alert.pk))


# --- equal to the scheduled runs ---------------------------------------------------------------


@pytest.mark.parametrize("sql", [None, PER_SHOP], ids=["one-instance", "per-entity"])
def test_a_backtest_is_what_the_scheduled_runs_recorded_tick_by_tick(events_source, make_alert, every_5_minutes,
                                                                     channels, sql):
    source, table = events_source
    alert = windowed_alert(make_alert, source, table, every_5_minutes, channels, sql)
    ran = [runner.run_many_by_id([alert.pk], tick, Trigger.SCHEDULE).executions[alert.pk] for tick in TICKS]
    recorded = [(e.scheduled_for.isoformat(), e.status, e.actual_value, e.threshold, e.state_after) for e in ran]
    sent = Counter((n.channel.name, n.event) for n in Notification.objects.filter(alert=alert))
    moments = Counter((n.execution.scheduled_for.isoformat(), n.instance_key, n.event)
                      for n in Notification.objects.filter(alert=alert, channel=channels[0]))

    timeline = backtest.replay(alert, list(alert.channels.all()), backtest.ticks_between(
        alert.schedule, TICKS[0], TICKS[-1]))

    assert [(p["tick"], p["status"], p["value"], p["threshold"], p["state"]) for p in timeline.ticks] == recorded
    assert {(channel, event): n for channel, counts in timeline.messages.items()
            for event, n in counts.items()} == dict(sent)
    assert Counter((e["tick"], e["key"], e["event"]) for e in timeline.events) == moments
    assert sent[("ops-log", "firing")] >= 2 and sent[("ops-log", "resolved")] >= 2  # not a quiet span


def test_the_first_window_starts_at_the_schedule_s_tick_before_and_each_next_at_the_previous_tick(
        events_source, make_alert, every_5_minutes, channels):
    source, table = events_source
    alert = windowed_alert(make_alert, source, table, every_5_minutes, channels)

    timeline = backtest.replay(alert, channels, TICKS)

    assert [p["value"] for p in timeline.ticks] == COUNTS  # every event counted once, in its own window
    assert [p["state"] for p in timeline.ticks] == [
        "OK", "PENDING", "FIRING", "OK", "OK", "PENDING", "FIRING", "FIRING", "OK", "OK", "PENDING", "OK"]
    assert [(e["tick"], e["event"]) for e in timeline.events] == [
        (TICKS[2].isoformat(), "firing"), (TICKS[3].isoformat(), "resolved"),
        (TICKS[6].isoformat(), "firing"), (TICKS[8].isoformat(), "resolved")]
    assert timeline.messages == {"ops-log": {"firing": 2, "resolved": 2}, "team-log": {"firing": 2, "resolved": 2}}


# --- the state machine's policies ----------------------------------------------------------------


def test_repeats_come_at_the_renotify_interval_of_the_ticks_and_no_recovery_message_when_off(
        events_source, make_alert, every_5_minutes, channels):
    source, table = events_source
    # FIRING from 10:30 to 10:40 (three ticks): a 10-minute interval repeats once, at 10:40.
    alert = windowed_alert(make_alert, source, table, every_5_minutes, channels[:1],
                           renotify_interval=timedelta(minutes=10), notify_on_recovery=False)
    alert.pending_evaluations = 1
    alert.save()

    timeline = backtest.replay(alert, channels[:1], TICKS)

    assert [(e["tick"][11:16], e["event"]) for e in timeline.events] == [
        ("10:10", "firing"), ("10:30", "firing"), ("10:40", "repeat"), ("10:55", "firing")]
    assert timeline.summary()["resolved"] == 0


def test_no_data_and_error_follow_the_alert_s_policies(make_datasource, make_alert, every_5_minutes, channels,
                                                       tmp_path):
    path = tmp_path / "empty.sqlite3"
    sqlite3.connect(path).execute("CREATE TABLE t (x INTEGER)").connection.close()
    source = make_datasource(f"sqlite:///{path}")
    quiet = make_alert(source, "SELECT 'OK' AS status FROM t", name="quiet", schedule=every_5_minutes,
                       on_no_data="alerting")
    broken = make_alert(source, "SELECT 'OK' AS status FROM no_such_table", name="broken",
                        schedule=every_5_minutes, on_error="ok")

    no_data = backtest.replay(quiet, channels[:1], TICKS[:3])
    error = backtest.replay(broken, channels[:1], TICKS[:3])

    assert {p["status"] for p in no_data.ticks} == {"NO_DATA"} and no_data.ticks[-1]["state"] == "FIRING"
    assert no_data.messages == {"ops-log": {"firing": 1}}
    assert {p["status"] for p in error.ticks} == {"ERROR"} and "no_such_table" in error.ticks[0]["error"]
    assert error.messages == {"ops-log": {}} and error.ticks[-1]["state"] == "OK"


# --- bounded -----------------------------------------------------------------------------------


def test_a_span_over_the_tick_budget_is_refused_before_any_query(make_datasource, make_alert, every_5_minutes,
                                                                  settings, api):
    settings.SENTINEL_BACKTEST_MAX_TICKS = 10
    alert = make_alert(make_datasource("sqlite://", name="default"), "SELECT 'OK' AS status", name="wide",
                       schedule=every_5_minutes)

    with pytest.raises(backtest.Refused) as refused:
        backtest.ticks_between(alert.schedule, TICKS[0], TICKS[-1])
    answer = api.post("/api/alerts/wide/backtest", {"start": TICKS[0].isoformat(), "end": TICKS[-1].isoformat()},
                      format="json")

    assert "more than 10 ticks" in str(refused.value) and "SENTINEL_BACKTEST_MAX_TICKS" in str(refused.value)
    assert answer.status_code == 400 and "SENTINEL_BACKTEST_MAX_TICKS" in answer.json()["span"][0]
    assert not Backtest.objects.exists()


def test_a_cancel_stops_a_running_backtest_between_ticks(events_source, make_alert, every_5_minutes, channels,
                                                        monkeypatch):
    source, table = events_source
    alert = windowed_alert(make_alert, source, table, every_5_minutes, channels)
    row = backtest.start(alert, channels, TICKS[0], TICKS[-1])  # not run: the test is outside a commit
    monkeypatch.setattr(backtest, "PROGRESS_SECONDS", 0)
    answered = backtest.answer

    def answer_then_cancel_at_the_third(*args):
        if args[2].tick == TICKS[2]:
            backtest.cancel(row)
        return answered(*args)

    monkeypatch.setattr(backtest, "answer", answer_then_cancel_at_the_third)
    backtest.run(row.pk)

    row.refresh_from_db()
    assert row.status == BacktestStatus.CANCELLED and row.ticks_done == 3
    assert row.result["summary"]["stopped"] == "stopped after 3 of 12 ticks"
    assert [p["tick"] for p in row.result["timeline"]] == [t.isoformat() for t in TICKS[:3]]


def test_a_queued_backtest_cancelled_never_runs(make_datasource, make_alert, every_5_minutes):
    alert = make_alert(make_datasource("sqlite://"), "SELECT 'OK' AS status", schedule=every_5_minutes)
    row = backtest.start(alert, [], TICKS[0], TICKS[-1])

    backtest.cancel(row)
    backtest.run(row.pk)

    row.refresh_from_db()
    assert row.status == BacktestStatus.CANCELLED and row.result is None and row.started_at is None


# --- nothing recorded --------------------------------------------------------------------------


def test_a_backtest_records_no_execution_no_notification_and_changes_no_state(
        events_source, make_alert, every_5_minutes, channels, django_capture_on_commit_callbacks):
    source, table = events_source
    alert = windowed_alert(make_alert, source, table, every_5_minutes, channels)
    runner.run_many_by_id([alert.pk], TICKS[2], Trigger.SCHEDULE)  # some history and state of its own
    runner.run_many_by_id([alert.pk], TICKS[3], Trigger.SCHEDULE)
    before = recorded_world(alert)

    with django_capture_on_commit_callbacks(execute=True):  # the eager task runs the backtest here
        row = backtest.start(alert, channels, TICKS[0], TICKS[-1], saved=alert)

    row.refresh_from_db()
    assert row.status == BacktestStatus.DONE and row.result["summary"]["messages_total"] == 8
    assert recorded_world(alert) == before


# --- the faces -----------------------------------------------------------------------------------


@pytest.fixture
def shop(events_source, make_alert, every_5_minutes, channels):
    source, table = events_source
    source.name = "default"
    source.save()
    return windowed_alert(make_alert, source, table, every_5_minutes, channels, name="shop_orders"), table


def test_the_api_starts_a_backtest_of_a_saved_alert_and_answers_its_result(
        shop, api, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        started = api.post("/api/alerts/shop_orders/backtest",
                           {"start": TICKS[0].isoformat(), "end": TICKS[-1].isoformat()}, format="json")
    result = api.get(f"/api/backtests/{started.json()['id']}").json()

    assert started.status_code == 202 and started.json()["ticks_total"] == 12
    assert started.json()["url"].endswith(f"/api/backtests/{started.json()['id']}")
    assert result["status"] == "done" and result["ticks_done"] == 12 and result["saved"] is True
    assert result["result"]["summary"]["fired"] == 2 and result["result"]["summary"]["resolved"] == 2
    assert [p["value"] for p in result["result"]["chart"]] == COUNTS


def test_the_api_backtests_an_unsaved_definition_with_its_own_threshold(shop, api,
                                                                       django_capture_on_commit_callbacks):
    alert, table = shop
    definition = {"name": "shop_orders", "query": alert.query.replace("> 2", "> 4"), "schedule": "*/5 * * * *",
                  "channels": ["ops-log"], "pending_evaluations": 1}
    with django_capture_on_commit_callbacks(execute=True):
        started = api.post("/api/backtests", {"alert": definition, "start": TICKS[0].isoformat(),
                                              "end": TICKS[-1].isoformat()}, format="json")
    result = api.get(f"/api/backtests/{started.json()['id']}").json()

    assert started.status_code == 202, started.json()
    assert result["saved"] is False and result["result"]["summary"]["messages"] == {"ops-log": {"firing": 1,
                                                                                                 "resolved": 1}}
    assert Alert.objects.get(name="shop_orders").query == alert.query  # the saved one untouched


def test_the_api_refuses_a_bad_span_and_a_bad_definition_by_field(shop, api):
    no_span = api.post("/api/alerts/shop_orders/backtest", {}, format="json")
    typo = api.post("/api/alerts/shop_orders/backtest", {"sincee": "1d"}, format="json")
    bad = api.post("/api/backtests", {"alert": {"query": "DELETE FROM x", "schedule": "*/5 * * * *"},
                                      "since": "1d"}, format="json")

    assert no_span.status_code == 400 and "since" in no_span.json()["span"][0]
    assert typo.status_code == 400 and "since" in typo.json()["sincee"][0]
    assert bad.status_code == 400 and "query" in bad.json()["alert"]


def test_a_viewer_reads_a_backtest_but_cannot_start_or_cancel_one(shop, reader_api):
    row = backtest.start(shop[0], [], TICKS[0], TICKS[-1], saved=shop[0])

    assert reader_api.get(f"/api/backtests/{row.pk}").status_code == 200
    assert reader_api.post("/api/alerts/shop_orders/backtest", {"since": "1d"}, format="json").status_code == 403
    assert reader_api.post(f"/api/backtests/{row.pk}/cancel").status_code == 403


def test_sentinel_backtest_prints_the_timeline_summary(shop, capsys):
    code, out = sentinel("backtest", "shop_orders", "--start", TICKS[0].isoformat(), "--end",
                         TICKS[-1].isoformat())
    json_code, as_json = sentinel("backtest", "shop_orders", "--start", TICKS[0].isoformat(), "--end",
                                  TICKS[-1].isoformat(), "--json")

    assert code == 0 and "12 ticks" in out and "ops-log: 2 firing, 2 resolved" in out
    assert f"{TICKS[2]:%Y-%m-%d %H:%M} UTC  firing" in out
    import json

    assert json_code == 0 and json.loads(as_json)["summary"]["fired"] == 2
    assert Execution.objects.count() == 0 and Notification.objects.count() == 0


def test_the_admin_backtest_button_answers_the_summary_and_a_chart(shop, admin_client, channels,
                                                                   django_capture_on_commit_callbacks):
    alert, _ = shop
    data = {**form_data(alert.datasource, name="shop_orders", query=alert.query, schedule_timezone="UTC",
                        pending_evaluations="2", channels=[channels[0].pk]), "sn_backtest_start": TICKS[0].isoformat(),
            "sn_backtest_end": TICKS[-1].isoformat()}
    with django_capture_on_commit_callbacks(execute=True):
        started = admin_client.post(f"/admin/alerts/alert/{alert.pk}/backtest/", data)
    row = Backtest.objects.get()
    shown = admin_client.get(f"/admin/alerts/alert/backtests/{row.pk}/").content.decode()

    assert started.status_code == 200 and f"/admin/alerts/alert/backtests/{row.pk}/" in started.content.decode()
    assert "12 ticks" in shown and "<svg" in shown and "ops-log would receive: 2 firing, 2 resolved" in shown
    assert "team-log" not in shown  # the form's channels, not the saved alert's
    assert Execution.objects.count() == 0
