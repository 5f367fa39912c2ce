"""`sentinel validate --check-queries` asks each datasource to plan each query (EXPLAIN in the
read-only, time-bounded session) without running it, and names the alert whose query reads a
missing table or has a syntax error; an unreachable datasource is a warning, not an error."""

import textwrap

import pytest

from tests.factories import sentinel

pytestmark = pytest.mark.django_db


def write(tmp_path, url, table, name="alerts.yaml") -> str:
    path = tmp_path / name
    path.write_text(textwrap.dedent(f"""\
        database:
          url: "{url}"
        alerts:
          - name: fine
            query: SELECT count(*) AS value FROM {table}
            schedule: "@hourly"
          - name: gone
            query: SELECT count(*) AS value FROM table_nobody_made
            schedule: "@hourly"
          - name: typo
            query: SELECT count(*) AS value FORM {table}
            schedule: "@hourly"
        """))
    return str(path)


def assert_reports_the_two_bad_queries(code, out, path, missing, syntax):
    assert code == 1, out
    lines = out.splitlines()
    assert lines[0] == f"{path}:8: alerts[1] (gone).query: On default: missing table: {missing}"
    assert lines[1].startswith(f"{path}:11: alerts[2] (typo).query: On default: syntax error: {syntax}")
    assert lines[2:] == ["2 errors in 1 file."]


def test_sqlite_missing_table_and_syntax_error_are_errors_with_the_alerts_names(tmp_path, sqlite_db):
    path = write(tmp_path, sqlite_db[0], "knobs")

    assert sentinel("validate", path)[0] == 0  # offline, all three are readable queries
    code, out = sentinel("validate", "--check-queries", path)

    assert_reports_the_two_bad_queries(code, out, path, "no such table: table_nobody_made",
                                       'near "FORM": syntax error')


@pytest.mark.needs_postgres
def test_postgresql_missing_table_and_syntax_error_are_errors_with_the_alerts_names(tmp_path, pg_datasource_url,
                                                                                    pg_table):
    table, execute = pg_table
    execute("CREATE TABLE {table} (amount int)")
    path = write(tmp_path, pg_datasource_url, table)

    code, out = sentinel("validate", "--check-queries", path)

    assert_reports_the_two_bad_queries(code, out, path, 'relation "table_nobody_made" does not exist',
                                       'syntax error at or near "FORM"')


@pytest.mark.needs_mariadb
def test_mariadb_missing_table_and_syntax_error_are_errors_with_the_alerts_names(tmp_path, settings):
    import uuid

    import sqlalchemy as sa

    url = settings.TEST_MARIADB_URL.replace("mysql://", "mysql+pymysql://", 1)
    engine, table = sa.create_engine(url, isolation_level="AUTOCOMMIT"), f"t_{uuid.uuid4().hex[:10]}"
    with engine.connect() as conn:
        conn.exec_driver_sql(f"CREATE TABLE {table} (amount INT)")
    try:
        path = write(tmp_path, settings.TEST_MARIADB_URL, table)
        code, out = sentinel("validate", "--check-queries", path)
    finally:
        with engine.connect() as conn:
            conn.exec_driver_sql(f"DROP TABLE IF EXISTS {table}")
        engine.dispose()

    database = sa.engine.make_url(url).database
    missing = f"(1146, \"Table '{database}.table_nobody_made' doesn't exist\")"
    assert_reports_the_two_bad_queries(code, out, path, missing, "(1064, ")


@pytest.mark.needs_postgres
def test_preparing_does_not_run_the_query(tmp_path, pg_datasource_url, pg_table):
    table, execute = pg_table
    execute("CREATE TABLE {table} (amount int)")
    path = tmp_path / "slow.yaml"
    path.write_text(f"database:\n  url: \"{pg_datasource_url}\"\n  timeout: 2s\nalerts:\n  - name: slow\n"
                    f"    query: SELECT pg_sleep(30) AS value FROM {table}\n    schedule: '@hourly'\n")

    code, out = sentinel("validate", "--check-queries", str(path))

    assert code == 0, out
    assert "Queries: 1 of 1 prepared on their datasources without a problem." in out


def test_an_unreachable_datasource_is_a_warning_and_the_file_stays_valid(tmp_path):
    path = write(tmp_path, "postgresql://reader:hunter2secret@127.0.0.1:1/nowhere", "orders")

    code, out = sentinel("validate", "--check-queries", path)

    assert code == 0, out
    lines = out.splitlines()
    assert lines[0].startswith(f"{path}:4: alerts[0] (fine): warning: the query was not checked: cannot reach "
                               "default: ")
    assert "Connection refused" in lines[0] or "connect" in lines[0]
    assert [line.split(":")[1] for line in lines[:3]] == ["4", "7", "10"]
    assert f"{path}: valid (1 datasource, 0 channels, 3 alerts)" in lines
    assert "Queries: 0 of 3 prepared on their datasources without a problem; 3 not checked (see the warnings)." \
        in lines
    assert "hunter2secret" not in out


def test_stored_alerts_are_checked_by_name_without_files(sqlite_db, make_datasource, make_alert):
    source = make_datasource(sqlite_db[0])
    make_alert(source, "SELECT value FROM knobs", name="fine")
    make_alert(source, "SELECT value FROM knobz", name="misspelt")
    down = make_datasource("postgresql://reader@127.0.0.1:1/nowhere", name="down")
    make_alert(down, "SELECT 1 AS value", name="elsewhere")

    code, out = sentinel("validate", "--check-queries")

    assert code == 1, out
    assert "alert misspelt: on source: missing table: no such table: knobz" in out.splitlines()
    assert any(line.startswith("alert elsewhere: warning: the query was not checked: cannot reach down:")
               for line in out.splitlines())
    assert out.splitlines()[-1] == "3 alerts: 1 with a query problem, 1 not checked."
    assert "alert fine" not in out


def test_without_files_or_check_queries_is_bad_usage():
    from django.core.management.base import CommandError

    with pytest.raises(CommandError) as raised:
        sentinel("validate")
    assert raised.value.returncode == 2
