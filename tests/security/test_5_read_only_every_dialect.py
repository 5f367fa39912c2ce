"""docs/security.md §5: alert queries only read, on PostgreSQL, MariaDB and SQLite; they leave
nothing on the pooled connection; one bad query is an ERROR of its own alert."""

import logging
import uuid

import pytest
import sqlalchemy as sa
from django.urls import reverse
from django.utils import timezone

from alerts.models import Execution, ExecutionStatus, Trigger
from alerts.querying import QueryError, dispose_engines, run_query
from alerts.runner import run_many
from tests.test_admin_alerts import form_data
from tests.test_querying import MARIADB_URL, source

PG_URL = "postgresql+psycopg2://postgres@127.0.0.1:5432/test"
# 10,001 tokens and more: sqlparse gives up on it.
HUGE_QUERY = "SELECT " + ", ".join(["1"] * 5001)


@pytest.fixture(autouse=True)
def fresh_engines():
    dispose_engines()
    yield
    dispose_engines()


def admin_engine(url):
    return sa.create_engine(url, isolation_level="AUTOCOMMIT")


# --- refused before they run ------------------------------------------------------------------------


@pytest.mark.needs_mariadb
@pytest.mark.parametrize("sql", [
    "SELECT 1 /*! , 2 */",
    "SELECT 1 /*!50001 , 2 */",
    "SELECT 1 /*M! , 2 */",
    "SELECT 1 /*! INTO OUTFILE '/tmp/sentinel-outfile-{u}' */",
])
def test_mysql_executable_comments_are_refused(sql):
    with pytest.raises(QueryError, match="executable comment"):
        run_query(source(MARIADB_URL), sql.format(u=uuid.uuid4().hex))


@pytest.mark.needs_mariadb
@pytest.mark.parametrize("sql", [
    "SELECT LOAD_FILE('/etc/passwd')",
    "SELECT GET_LOCK('sentinel', 0)",
    "SELECT `release_lock`('sentinel')",
    "SELECT RELEASE_ALL_LOCKS()",
])
def test_mariadb_file_and_lock_functions_are_refused(sql):
    with pytest.raises(QueryError, match="may not call"):
        run_query(source(MARIADB_URL), sql)


@pytest.mark.needs_postgres
@pytest.mark.parametrize("sql", [
    "SELECT pg_advisory_lock(4242)",
    "SELECT pg_try_advisory_lock(4242)",
    "SELECT pg_catalog.pg_advisory_xact_lock(4242)",
    "SELECT * FROM pg_ls_waldir()",
    "SELECT * FROM pg_ls_logdir()",
    "SELECT pg_stat_reset_single_table_counters(1)",
    "SELECT pg_create_physical_replication_slot('sentinel_slot')",
    "SELECT * FROM pg_logical_slot_get_changes('x', NULL, NULL)",
    "SELECT lo_import('/etc/passwd')",
    "SELECT 1 # pg_read_file('/etc/passwd')::int",  # sqlparse reads `#` as a comment, PostgreSQL does not
])
def test_postgres_file_lock_and_slot_functions_are_refused(sql):
    with pytest.raises(QueryError, match="may not call"):
        run_query(source(PG_URL), sql)


@pytest.mark.parametrize("sql", ["PRAGMA query_only = OFF", "PRAGMA user_version = 7", "pragma journal_mode=DELETE"])
def test_sqlite_pragma_statements_are_refused(sqlite_db, sql):
    url, _ = sqlite_db
    with pytest.raises(QueryError, match="starts with PRAGMA"):
        run_query(source(url), sql)


def test_sqlite_table_valued_pragmas_inside_a_select_still_read(sqlite_db):
    url, _ = sqlite_db
    result = run_query(source(url), "SELECT name FROM pragma_table_info('knobs') ORDER BY cid")
    assert result.rows == [("name",), ("value",)]


# --- nothing left on the pooled connection -----------------------------------------------------------


@pytest.mark.needs_postgres
def test_a_postgres_advisory_lock_taken_by_one_run_is_gone_for_the_next():
    # A function hides the lock from any check of the SQL text: only the session reset can end it.
    name = f"sentinel_lock_{uuid.uuid4().hex[:8]}"
    admin = admin_engine(PG_URL)
    with admin.connect() as conn:
        conn.exec_driver_sql(f"CREATE FUNCTION {name}() RETURNS bigint LANGUAGE sql AS "
                             f"$$ SELECT pg_backend_pid()::bigint FROM (SELECT pg_advisory_lock(424242)) l $$")
    try:
        ds = source(PG_URL, name=name)
        first = run_query(ds, f"SELECT {name}() AS pid").rows[0][0]

        with admin.connect() as conn:
            assert conn.exec_driver_sql("SELECT pg_try_advisory_lock(424242)").scalar() is True
            conn.exec_driver_sql("SELECT pg_advisory_unlock(424242)")
        second = run_query(ds, "SELECT pg_backend_pid() AS pid, current_setting('application_name') AS app")
        assert second.rows[0][0] == first  # the same pooled connection, reset
    finally:
        with admin.connect() as conn:
            conn.exec_driver_sql(f"DROP FUNCTION IF EXISTS {name}()")
        admin.dispose()


@pytest.mark.needs_mariadb
def test_a_mariadb_lock_and_variable_set_by_one_run_are_gone_for_the_next():
    name = f"sentinel_lock_{uuid.uuid4().hex[:8]}"
    admin = admin_engine(MARIADB_URL)
    with admin.connect() as conn:
        conn.exec_driver_sql(f"CREATE FUNCTION {name}() RETURNS INT NOT DETERMINISTIC "
                             f"RETURN GET_LOCK('{name}', 0)")
    try:
        ds = source(MARIADB_URL, name=name)
        first = run_query(ds, f"SELECT {name}() AS got, @sentinel_left := 42 AS kept, CONNECTION_ID() AS id")
        assert first.rows[0][:2] == (1, 42)

        with admin.connect() as conn:
            assert conn.exec_driver_sql(f"SELECT IS_FREE_LOCK('{name}')").scalar() == 1
        second = run_query(ds, "SELECT @sentinel_left AS left_over, CONNECTION_ID() AS id")
        assert second.rows[0] == (None, first.rows[0][2])  # the same pooled connection, reset
        third = run_query(ds, "SELECT @@session.tx_read_only AS ro")  # and still read-only
        assert third.rows[0][0] == 1
    finally:
        with admin.connect() as conn:
            conn.exec_driver_sql(f"DROP FUNCTION IF EXISTS {name}")
        admin.dispose()


# --- one bad query is its own alert's ERROR ------------------------------------------------------------


def test_a_query_too_long_to_check_is_an_error_of_its_own_alert_and_its_batch_runs(
        sqlite_db, make_datasource, make_alert):
    url, _ = sqlite_db
    ds = make_datasource(url)
    before = make_alert(ds, "SELECT 'OK' AS status", name="before")
    huge = make_alert(ds, HUGE_QUERY, name="huge")
    after = make_alert(ds, "SELECT 'OK' AS status", name="after")
    tick = timezone.now().replace(microsecond=0)

    batch = run_many([before, huge, after], tick, Trigger.SCHEDULE)

    statuses = {e.alert.name: e.status for e in Execution.objects.select_related("alert")}
    assert statuses == {"before": ExecutionStatus.OK, "huge": ExecutionStatus.ERROR, "after": ExecutionStatus.OK}
    assert "too long to check" in batch.executions[huge.pk].error
    assert not Execution.objects.filter(status=ExecutionStatus.RUNNING).exists()


def test_an_unexpected_failure_of_one_alert_is_its_error_and_its_batch_runs(
        sqlite_db, make_datasource, make_alert, monkeypatch):
    from alerts import runner

    logged = []
    handler = logging.Handler()
    handler.emit = logged.append
    monkeypatch.setattr(logging.getLogger("sentinel.runner"), "handlers", [handler])

    real = runner.evaluate

    def evaluate(rule, columns, rows):
        if "boom" in columns:
            raise RuntimeError("a bug met by this alert only")
        return real(rule, columns, rows)

    monkeypatch.setattr(runner, "evaluate", evaluate)
    url, _ = sqlite_db
    ds = make_datasource(url)
    alerts = [make_alert(ds, "SELECT 'OK' AS status", name="a"),
              make_alert(ds, "SELECT 'OK' AS status, 1 AS boom", name="b"),
              make_alert(ds, "SELECT 'OK' AS status", name="c")]

    run_many(alerts, timezone.now().replace(microsecond=0), Trigger.SCHEDULE)

    statuses = {e.alert.name: (e.status, e.error) for e in Execution.objects.select_related("alert")}
    assert statuses["a"][0] == statuses["c"][0] == ExecutionStatus.OK
    assert statuses["b"][0] == ExecutionStatus.ERROR and "RuntimeError" in statuses["b"][1]
    tracebacks = [r for r in logged if r.exc_info]
    assert "a bug met by this alert only" in str(tracebacks[0].exc_info[1])  # the worker log has the traceback


def test_admin_test_query_of_a_query_too_long_to_check_says_so(admin_client, sqlite_db, make_datasource):
    url, _ = sqlite_db
    ds = make_datasource(url)

    response = admin_client.post(reverse("admin:alerts_alert_test_query_new"),
                                 form_data(ds, name="huge", query=HUGE_QUERY))

    assert response.status_code < 500
    assert "too long to check" in response.content.decode()
