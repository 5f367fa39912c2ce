"""Tick-bound queries (docs/writing-alerts.md): :tick, :window_start, :window_end and :last_success,
bound by the driver on PostgreSQL, MariaDB and SQLite, so consecutive runs count each row once,
gaps included, and a rerun of a past tick gives the original's answer and records nothing."""

import re
import sqlite3
import uuid
from datetime import datetime, timedelta
from datetime import timezone as dt_timezone
from pathlib import Path

import pytest
import sqlalchemy as sa
from django.conf import settings
from django.utils import timezone

from alerts import runner, ticks
from alerts.admin.actions import run_now
from alerts.models import Alert, AlertState, Execution, ExecutionStatus, Notification, Trigger
from alerts.querying import QueryError, dispose_engines, run_query
from alerts.validation import check_query
from schedules.models import Schedule
from tests.api_helpers import admin_token, api  # noqa: F401 (fixtures)
from tests.factories import sentinel
from tests.test_admin_alerts import form_data
from tests.test_querying import MARIADB_URL, source

pytestmark = pytest.mark.django_db

DOC = Path(settings.BASE_DIR) / "docs" / "writing-alerts.md"
UTC = dt_timezone.utc


def at(hh_mm_ss: str) -> datetime:
    return datetime.fromisoformat(f"2026-12-01T{hh_mm_ss}+00:00")


# Rows on and either side of each 5-minute boundary: a window that is off by one boundary miscounts.
EVENTS = [at(t) for t in ("09:59:59", "10:00:00", "10:02:30", "10:04:59", "10:05:00", "10:07:00", "10:10:00",
                          "10:14:59", "10:19:00", "10:24:00", "10:29:59", "10:30:00", "10:33:00", "10:39:59",
                          "10:40:00")]
TICKS = [at(f"10:{m:02d}:00") for m in range(5, 45, 5)]  # 10:05 ... 10:40, every 5 minutes


def counted(start: datetime, end: datetime) -> int:
    return sum(1 for t in EVENTS if start <= t < end)


def doc_example(dialect: str) -> str:
    """The SQL of the page's example for a dialect: the ```sql block whose first line names it."""
    section = DOC.read_text().split("## Tick-bound queries", 1)[1].split("\n## ", 1)[0]
    for block in re.findall(r"```sql\n(.*?)```", section, re.S):
        if block.startswith(f"-- {dialect}:"):
            return block
    raise AssertionError(f"docs/writing-alerts.md shows no {dialect} example")


# --- one events table per database ------------------------------------------------------------------


def _postgres(table):
    url = "postgresql+psycopg2://postgres@127.0.0.1:5432/test"
    engine = sa.create_engine(url, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.exec_driver_sql(f"CREATE TABLE {table} (created_at timestamptz NOT NULL)")
        for t in EVENTS:
            conn.exec_driver_sql(f"INSERT INTO {table} VALUES (%s)", (t,))

    def drop():
        with engine.connect() as conn:
            conn.exec_driver_sql(f"DROP TABLE IF EXISTS {table}")
        engine.dispose()

    return url, drop


def _mariadb(table):
    engine = sa.create_engine(MARIADB_URL, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.exec_driver_sql(f"CREATE TABLE {table} (created_at DATETIME NOT NULL)")
        for t in EVENTS:  # DATETIME holds UTC wall time, as UTC_TIMESTAMP() writes it
            conn.exec_driver_sql(f"INSERT INTO {table} VALUES (%s)", (t.replace(tzinfo=None),))

    def drop():
        with engine.connect() as conn:
            conn.exec_driver_sql(f"DROP TABLE IF EXISTS {table}")
        engine.dispose()

    return MARIADB_URL, drop


def _sqlite(table, tmp_path):
    path = tmp_path / "events.sqlite3"
    with sqlite3.connect(path) as conn:
        conn.execute(f"CREATE TABLE {table} (created_at TEXT NOT NULL DEFAULT (datetime('now')))")
        conn.executemany(f"INSERT INTO {table} VALUES (?)", [(f"{t:%Y-%m-%d %H:%M:%S}",) for t in EVENTS])
    return f"sqlite:///{path}", lambda: None


DIALECTS = [
    pytest.param("PostgreSQL", marks=pytest.mark.needs_postgres, id="postgresql"),
    pytest.param("MySQL/MariaDB", marks=pytest.mark.needs_mariadb, id="mariadb"),
    pytest.param("SQLite", id="sqlite"),
]


@pytest.fixture
def events(request, tmp_path):
    """(dialect, datasource URL, table) for the dialect the test is parametrised with."""
    dialect = request.param
    table = f"events_{uuid.uuid4().hex[:10]}"
    if dialect == "PostgreSQL":
        url, drop = _postgres(table)
    elif dialect == "MySQL/MariaDB":
        url, drop = _mariadb(table)
    else:
        url, drop = _sqlite(table, tmp_path)
    dispose_engines()
    yield dialect, url, table
    dispose_engines()
    drop()


@pytest.fixture
def every_5_minutes(db):
    return Schedule.objects.for_timing(cron="*/5 * * * *", timezone="UTC")


def window_alert(make_datasource, make_alert, schedule, events, sql=None):
    dialect, url, table = events
    sql = (sql or doc_example(dialect)).replace("FROM events", f"FROM {table}")
    # A grace of ten years: these ticks are in the past, and a late scheduled run would be MISSED.
    return make_alert(make_datasource(url), sql, schedule=schedule, grace=timedelta(days=3650))


def run_tick(alert, tick) -> Execution:
    return runner.run_many_by_id([alert.pk], tick, Trigger.SCHEDULE).executions[alert.pk]


# --- consecutive ticks count each row once ---------------------------------------------------------


@pytest.mark.parametrize("events", DIALECTS, indirect=True)
def test_consecutive_scheduled_runs_count_each_row_of_their_window_once(events, make_datasource, make_alert,
                                                                       every_5_minutes):
    alert = window_alert(make_datasource, make_alert, every_5_minutes, events)

    executions = [run_tick(alert, tick) for tick in TICKS]

    assert [e.status for e in executions] == [ExecutionStatus.OK] * len(TICKS), [e.error for e in executions]
    # The first window starts at the schedule's tick before the first run (10:00).
    starts = [at("10:00:00")] + TICKS[:-1]
    assert [e.actual_value for e in executions] == [counted(s, t) for s, t in zip(starts, TICKS)]
    assert sum(e.actual_value for e in executions) == counted(at("10:00:00"), TICKS[-1]) == 13
    assert {e.context["window_seconds"] for e in executions} == {300}


@pytest.mark.parametrize("events", DIALECTS, indirect=True)
def test_after_missed_and_absent_ticks_the_next_window_spans_them(events, make_datasource, make_alert,
                                                                 every_5_minutes):
    alert = window_alert(make_datasource, make_alert, every_5_minutes, events)
    first = run_tick(alert, at("10:05:00"))
    alert.grace = timedelta(0)  # beat was down: each of these ticks fires too late and is MISSED
    alert.save(update_fields=["grace"])
    missed = [run_tick(alert, at(t)) for t in ("10:10:00", "10:15:00", "10:20:00")]
    alert.grace = timedelta(days=3650)
    alert.save(update_fields=["grace"])

    after_missed = run_tick(alert, at("10:25:00"))
    # 10:30 and 10:35 never fired at all: no execution.
    after_absent = run_tick(alert, at("10:40:00"))

    assert {e.status for e in missed} == {ExecutionStatus.MISSED}
    assert after_missed.actual_value == counted(at("10:05:00"), at("10:25:00")) == 6
    assert after_missed.context["window_seconds"] == 20 * 60
    assert after_absent.actual_value == counted(at("10:25:00"), at("10:40:00")) == 4
    assert after_absent.context["window_seconds"] == 15 * 60
    assert first.actual_value + after_missed.actual_value + after_absent.actual_value == counted(
        at("10:00:00"), at("10:40:00"))


# --- a rerun of a past tick ------------------------------------------------------------------------


@pytest.mark.parametrize("events", DIALECTS, indirect=True)
def test_a_rerun_of_a_past_tick_answers_what_the_original_recorded_and_records_nothing(
        events, make_datasource, make_alert, every_5_minutes, log_channel):
    alert = window_alert(make_datasource, make_alert, every_5_minutes, events)
    alert.channels.set([log_channel])
    recorded = {tick: run_tick(alert, tick).actual_value for tick in TICKS}
    before = (Execution.objects.count(), Notification.objects.count(),
              list(AlertState.objects.values_list("key", "state", "since")))

    reruns = {tick: runner.run(alert, tick, Trigger.CLI, dry_run=True) for tick in TICKS}

    assert {tick: dry.evaluation.value for tick, dry in reruns.items()} == recorded
    assert reruns[at("10:15:00")].binding == ticks.Binding(at("10:15:00"), at("10:10:00"), at("10:15:00"),
                                                            at("10:10:00"))
    assert (Execution.objects.count(), Notification.objects.count(),
            list(AlertState.objects.values_list("key", "state", "since"))) == before


def test_sentinel_run_with_a_tick_reruns_it_as_a_dry_run(tmp_path, make_datasource, make_alert, every_5_minutes):
    alert = window_alert(make_datasource, make_alert, every_5_minutes, ("SQLite", *_sqlite_events(tmp_path)),
                         sql=None)
    original = [run_tick(alert, tick) for tick in TICKS[:3]][1]  # 10:10
    count = Execution.objects.count()

    code, out = sentinel("run", alert.name, "--tick", "2026-12-01T10:10Z")

    assert code == 0
    assert f"value {original.actual_value!r}" in out and "nothing recorded" in out
    assert ("bound :tick = 2026-12-01 10:10:00 UTC (rerun of a past tick), :window_start = 2026-12-01 10:05:00 UTC, "
            ":window_end = 2026-12-01 10:10:00 UTC, :last_success = 2026-12-01 10:05:00 UTC") in out
    assert Execution.objects.count() == count


def test_sentinel_run_refuses_a_tick_in_the_future(tmp_path, make_datasource, make_alert, every_5_minutes):
    from django.core.management import CommandError

    alert = window_alert(make_datasource, make_alert, every_5_minutes, ("SQLite", *_sqlite_events(tmp_path)))
    later = (timezone.now() + timedelta(hours=1)).strftime("%Y-%m-%dT%H:%MZ")

    with pytest.raises(CommandError, match="has not come yet"):
        sentinel("run", alert.name, "--tick", later)
    with pytest.raises(CommandError, match="Cannot read the tick"):
        sentinel("run", alert.name, "--tick", "yesterday")


def test_the_api_reruns_a_past_tick_as_a_dry_run(api, tmp_path, make_datasource, make_alert, every_5_minutes):
    alert = window_alert(make_datasource, make_alert, every_5_minutes, ("SQLite", *_sqlite_events(tmp_path)))
    original = [run_tick(alert, tick) for tick in TICKS[:3]][2]  # 10:15
    count = Execution.objects.count()

    response = api.post(f"/api/alerts/{alert.name}/run?tick=2026-12-01T10:15:00Z")

    assert response.status_code == 200, response.json()
    body = response.json()
    assert body["dry_run"] is True and body["value"] == original.actual_value
    assert body["bound"] == {"tick": "2026-12-01T10:15:00Z", "window_start": "2026-12-01T10:10:00Z",
                             "window_end": "2026-12-01T10:15:00Z", "last_success": "2026-12-01T10:10:00Z",
                             "now": False}
    assert Execution.objects.count() == count
    assert api.post(f"/api/alerts/{alert.name}/run?tick=soon").status_code == 400


def _sqlite_events(tmp_path):
    table = f"events_{uuid.uuid4().hex[:10]}"
    url, _ = _sqlite(table, tmp_path)
    return url, table


# --- :last_success ---------------------------------------------------------------------------------

BROKEN_WHEN_HIGH = (
    "SELECT CASE WHEN value > 5 THEN 'BROKEN' ELSE 'OK' END AS status, :last_success AS actual_value, "
    ":window_start AS window_start FROM knobs WHERE name = 'level'"
)


def test_last_success_is_the_latest_earlier_successful_tick_and_null_before_any(
        sqlite_db, make_datasource, make_alert, every_5_minutes):
    url, set_knob = sqlite_db
    alert = make_alert(make_datasource(url), BROKEN_WHEN_HIGH, schedule=every_5_minutes,
                       grace=timedelta(days=3650))

    first = run_tick(alert, at("10:05:00"))
    set_knob("level", 9)
    failed = run_tick(alert, at("10:10:00"))
    set_knob("level", 1)
    after = run_tick(alert, at("10:15:00"))

    assert first.status == ExecutionStatus.OK and first.actual_value is None  # NULL: no success before
    assert failed.status == ExecutionStatus.ERROR
    # The ERROR run queried, so it spent its window; it was no success.
    assert after.actual_value == "2026-12-01 10:05:00"
    assert after.context["window_start"] == "2026-12-01 10:10:00"


# --- what the database reads as a parameter ----------------------------------------------------------

LITERALS = {
    "PostgreSQL": ("SELECT 'OK' AS status, count(\"created_at\"::date)::int AS actual_value, "
                   "':notaparam 100%' AS note, 'a%b' LIKE 'a%' AS matched, :tick::date::text AS day, "
                   "1 AS \":quoted\" FROM events /* :comment 5% */ "
                   "WHERE created_at >= :window_start AND created_at < :window_end"),
    "MySQL/MariaDB": ("SELECT 'OK' AS status, count(`created_at`) AS actual_value, ':notaparam 100%' AS note, "
                      "'a%b' LIKE 'a%' AS matched, CAST(DATE(:tick) AS CHAR) AS day, 1 AS `:quoted` "
                      "FROM events /* :comment 5% */ WHERE created_at >= :window_start AND created_at < :window_end"),
    "SQLite": ("SELECT 'OK' AS status, count(\"created_at\") AS actual_value, ':notaparam 100%' AS note, "
               "'a%b' LIKE 'a%' AS matched, date(:tick) AS day, 1 AS \":quoted\" "
               "FROM events -- :comment 5%\n WHERE created_at >= :window_start AND created_at < :window_end"),
}


@pytest.mark.parametrize("events", DIALECTS, indirect=True)
def test_percent_casts_and_colons_in_literals_and_comments_keep_their_meaning(events, make_datasource,
                                                                              make_alert, every_5_minutes):
    alert = window_alert(make_datasource, make_alert, every_5_minutes, events, sql=LITERALS[events[0]])

    execution = run_tick(alert, at("10:10:00"))

    assert execution.status == ExecutionStatus.OK, execution.error
    assert execution.actual_value == counted(at("10:05:00"), at("10:10:00"))
    assert execution.context["note"] == ":notaparam 100%"
    assert execution.context["matched"] in (True, 1) and execution.context["day"] == "2026-12-01"
    assert execution.context[":quoted"] == 1


@pytest.mark.parametrize("events", DIALECTS, indirect=True)
def test_a_query_without_tick_parameters_is_sent_exactly_as_written(events):
    dialect, url, _ = events
    # Were it sent with parameters, pyformat drivers would read %% as %, and SQLite would bind :tick.
    sql = "SELECT ':tick 100%%' AS note, '%(tick)s' AS pyformat"

    result = run_query(source(url), sql)

    assert result.rows == [(":tick 100%%", "%(tick)s")]


def test_a_tick_bound_query_outside_a_run_says_it_needs_a_tick(sqlite_db):
    url, _ = sqlite_db

    with pytest.raises(QueryError, match=r"uses :tick: only a run for a tick binds them"):
        run_query(source(url), "SELECT :tick AS t")


# --- an unknown :name is refused at save --------------------------------------------------------------

MISSPELT = "SELECT count(*) AS n FROM events WHERE created_at >= :windw_start AND created_at < :window_end"
REFUSAL = ("The query uses :windw_start, which Sentinel does not bind: an alert query may use :tick, "
           ":window_start, :window_end and :last_success")


def test_an_unknown_name_is_refused_at_save_naming_the_four_known_ones(api, admin_client, sqlite_db,
                                                                       make_datasource, tmp_path):
    url, _ = sqlite_db
    ds = make_datasource(url, name="default")
    assert check_query(MISSPELT)[0].startswith(REFUSAL)
    assert check_query("SELECT ':windw_start' AS s, 1::int -- :nope") == []

    response = api.post("/api/alerts", {"name": "misspelt", "query": MISSPELT, "schedule": "*/5 * * * *"},
                        format="json")
    assert response.status_code == 400 and REFUSAL in str(response.json())

    page = admin_client.post("/admin/alerts/alert/add/", form_data(ds, query=MISSPELT, name="misspelt"))
    assert page.status_code == 200 and REFUSAL in page.content.decode()

    config = tmp_path / "alerts.yaml"
    config.write_text(f"database:\n  url: {url}\nalerts:\n  - name: misspelt\n"
                      f"    schedule: '*/5 * * * *'\n    query: \"{MISSPELT}\"\n")
    code, out = sentinel("validate", str(config))
    assert code != 0 and REFUSAL in out
    assert not Alert.objects.filter(name="misspelt").exists()


def test_saving_a_tick_bound_query_in_the_admin_plans_it_with_values_bound(admin_client, sqlite_db, make_datasource):
    url, _ = sqlite_db
    ds = make_datasource(url, name="default")
    query = "SELECT 'OK' AS status, count(*) AS actual_value FROM knobs WHERE :window_start < :window_end"

    response = admin_client.post("/admin/alerts/alert/add/", form_data(ds, query=query, name="bound"), follow=True)

    assert Alert.objects.filter(name="bound").exists()
    assert "its query fails" not in response.content.decode() and "was not checked" not in response.content.decode()


# --- manual runs bind "now" ---------------------------------------------------------------------------


def test_a_manual_run_binds_now_and_says_so(tmp_path, make_datasource, make_alert, every_5_minutes):
    alert = window_alert(make_datasource, make_alert, every_5_minutes, ("SQLite", *_sqlite_events(tmp_path)))

    code, out = sentinel("run", alert.name)

    execution = Execution.objects.get(alert=alert)
    start = every_5_minutes.latest_tick(execution.scheduled_for - timedelta(microseconds=1))
    assert code == 0 and execution.trigger == Trigger.CLI
    assert f"bound :tick = {execution.scheduled_for:%Y-%m-%d %H:%M:%S}" in out and " UTC (now)" in out
    assert f":window_start = {start:%Y-%m-%d %H:%M:%S} UTC" in out
    # The next scheduled run's window starts where the manual one ended.
    following = every_5_minutes.ticks(execution.scheduled_for, limit=1)[0]
    assert ticks.binding_for(alert, following).window_start == execution.scheduled_for

    level, said = run_now(Alert.objects.select_related("datasource", "schedule").get(pk=alert.pk))
    assert "bound :tick = " in said and " UTC (now), :window_start = " in said
    _, dry = sentinel("run", alert.name, "--dry-run")
    assert "UTC (now)" in dry


def test_a_query_without_tick_parameters_prints_no_binding(tmp_path, make_datasource, make_alert, every_5_minutes):
    alert = window_alert(make_datasource, make_alert, every_5_minutes, ("SQLite", *_sqlite_events(tmp_path)),
                         sql="SELECT 'OK' AS status")

    _, out = sentinel("run", alert.name)

    assert "bound" not in out


def test_the_api_dry_run_binds_now(api, tmp_path, make_datasource, make_alert, every_5_minutes):
    alert = window_alert(make_datasource, make_alert, every_5_minutes, ("SQLite", *_sqlite_events(tmp_path)))

    body = api.post(f"/api/alerts/{alert.name}/run?dry_run=1").json()

    assert body["bound"]["now"] is True
    assert body["bound"]["tick"] == body["bound"]["window_end"]


def test_the_admin_test_query_reruns_a_typed_in_tick(admin_client, tmp_path, make_datasource, make_alert,
                                                    every_5_minutes):
    from django.urls import reverse

    alert = window_alert(make_datasource, make_alert, every_5_minutes, ("SQLite", *_sqlite_events(tmp_path)))
    original = [run_tick(alert, tick) for tick in TICKS[:2]][1]  # 10:10
    url = reverse("admin:alerts_alert_test_query", args=[alert.pk])
    data = form_data(alert.datasource, name=alert.name, query=alert.query, schedule_text="*/5 * * * *",
                     schedule_timezone="UTC")
    count = Execution.objects.count()

    rerun = admin_client.post(url, {**data, "sn_tick": "2026-12-01T10:10Z"})
    now = admin_client.post(url, data)
    future = admin_client.post(url, {**data, "sn_tick": "2999-01-01T00:00Z"})

    page = rerun.content.decode()
    assert rerun.status_code == 200 and f"value <span class=\"sn-mono\">{original.actual_value}</span>" in page
    assert "bound :tick = 2026-12-01 10:10:00 UTC (rerun of a past tick), :window_start = 2026-12-01 10:05:00 UTC" in page
    assert now.status_code == 200 and " UTC (now), :window_start = " in now.content.decode()
    assert future.status_code == 400 and "has not come yet" in future.content.decode()
    assert Execution.objects.count() == count
