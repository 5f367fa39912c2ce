"""Bad queries and bad days end as recorded executions with clear errors, and notify once."""

from datetime import datetime, timedelta, timezone as tz

import pytest
from django.utils import timezone

from alerts import runner
from alerts.models import ExecutionStatus, Notification, State, Trigger
from tests.factories import LEVEL_QUERY

pytestmark = pytest.mark.django_db(transaction=True)

T0 = datetime(2026, 11, 24, 9, 0, tzinfo=tz.utc)


def tick(n):
    return T0 + timedelta(minutes=n)


def test_closed_port_ends_as_error_without_the_password(make_datasource, make_alert):
    alert = make_alert(make_datasource("postgresql+psycopg2://reader:s3cr3t-pw@127.0.0.1:1/shop"), "SELECT 1")
    execution = runner.run(alert, tick(0), Trigger.MANUAL)
    assert execution.status == ExecutionStatus.ERROR
    assert "s3cr3t-pw" not in execution.error and "port 1" in execution.error


@pytest.mark.needs_postgres
def test_timeout_is_recorded_as_timeout(make_datasource, make_alert, pg_datasource_url):
    alert = make_alert(make_datasource(pg_datasource_url, timeout_seconds=1), "SELECT 'OK' AS status FROM pg_sleep(5)")
    execution = runner.run(alert, tick(0), Trigger.MANUAL)
    assert execution.status == ExecutionStatus.TIMEOUT and execution.duration_ms < 3000
    assert "timeout of 1 s" in execution.error


@pytest.mark.needs_postgres
def test_a_delete_alert_errors_and_the_rows_are_still_there(make_datasource, make_alert, pg_table, pg_datasource_url):
    table, execute = pg_table
    execute("CREATE TABLE {table} (id int)")
    execute("INSERT INTO {table} VALUES (1), (2)")
    alert = make_alert(make_datasource(pg_datasource_url), f"DELETE FROM {table} RETURNING 'OK' AS status")

    execution = runner.run(alert, tick(0), Trigger.MANUAL)

    assert execution.status == ExecutionStatus.ERROR and "read-only" in execution.error
    assert execute("SELECT count(*) FROM {table}") == [(2,)]


def test_missing_variable_is_an_error_naming_it(make_datasource, make_alert, monkeypatch):
    monkeypatch.delenv("NOT_SET_ANYWHERE", raising=False)
    alert = make_alert(make_datasource("sqlite:///${NOT_SET_ANYWHERE}"), "SELECT 'OK' AS status")
    execution = runner.run(alert, tick(0), Trigger.MANUAL)
    assert execution.status == ExecutionStatus.ERROR and "NOT_SET_ANYWHERE is not set" in execution.error


def test_broken_sql_notifies_error_once_and_resolves_when_fixed(sqlite_db, make_datasource, make_alert, log_channel):
    alert = make_alert(make_datasource(sqlite_db[0]), "SELECT status FROM no_such_table", channels=[log_channel])

    runner.run(alert, tick(0), Trigger.MANUAL)
    runner.run(alert, tick(1), Trigger.MANUAL)
    alert.query = LEVEL_QUERY
    alert.save()
    runner.run(alert, tick(2), Trigger.MANUAL)

    assert list(Notification.objects.order_by("id").values_list("event", flat=True)) == ["error", "resolved"]


def test_silenced_alert_records_suppressed_and_tells_people_after_the_silence(
        sqlite_db, make_datasource, make_alert, log_channel):
    url, set_knob = sqlite_db
    alert = make_alert(make_datasource(url), LEVEL_QUERY, channels=[log_channel],
                       silenced_until=timezone.now() + timedelta(hours=1), silence_reason="maintenance")
    set_knob("level", 9)

    during = runner.run(alert, tick(0), Trigger.MANUAL)
    alert.silenced_until = None
    alert.save()
    runner.run(alert, tick(1), Trigger.MANUAL)
    runner.run(alert, tick(2), Trigger.MANUAL)

    assert during.state_after == State.FIRING  # the silence never stops the state
    assert list(Notification.objects.order_by("id").values_list("event", "status")) == [
        ("firing", "suppressed"), ("firing", "sent")]


def test_an_error_inside_a_silence_is_told_when_the_silence_ends_and_resolved_once(
        sqlite_db, make_datasource, make_alert, log_channel):
    alert = make_alert(make_datasource(sqlite_db[0]), "SELECT status FROM no_such_table", channels=[log_channel],
                       silenced_until=timezone.now() + timedelta(hours=1), silence_reason="migration")

    runner.run(alert, tick(0), Trigger.MANUAL)
    alert.silenced_until = None
    alert.save()
    runner.run(alert, tick(1), Trigger.MANUAL)
    runner.run(alert, tick(2), Trigger.MANUAL)
    alert.query = LEVEL_QUERY
    alert.save()
    runner.run(alert, tick(3), Trigger.MANUAL)

    assert list(Notification.objects.order_by("id").values_list("event", "status")) == [
        ("error", "suppressed"), ("error", "sent"), ("resolved", "sent")]


def test_an_error_that_began_and_ended_inside_a_silence_tells_nobody(
        sqlite_db, make_datasource, make_alert, log_channel):
    alert = make_alert(make_datasource(sqlite_db[0]), "SELECT status FROM no_such_table", channels=[log_channel],
                       silenced_until=timezone.now() + timedelta(hours=1), silence_reason="migration")

    runner.run(alert, tick(0), Trigger.MANUAL)
    alert.query = LEVEL_QUERY
    alert.silenced_until = None
    alert.save()
    ok = runner.run(alert, tick(1), Trigger.MANUAL)

    assert ok.state_after == State.OK
    assert list(Notification.objects.order_by("id").values_list("event", "status")) == [("error", "suppressed")]


@pytest.mark.needs_postgres
def test_broken_sql_on_postgres_is_an_error_quoting_the_database(make_datasource, make_alert, pg_datasource_url):
    alert = make_alert(make_datasource(pg_datasource_url), "SELEC 'OK' AS status")
    execution = runner.run(alert, tick(0), Trigger.MANUAL)
    assert execution.status == ExecutionStatus.ERROR and 'syntax error at or near "SELEC"' in execution.error
