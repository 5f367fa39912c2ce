"""Queries are read-only and bounded, on every database we can reach here."""

import datetime
import decimal
import time
import uuid

import pytest
from django.conf import settings

from alerts.models import Datasource
from alerts.querying import QueryError, QueryTimeout, engine_for, json_safe, run_query

MARIADB_URL = "mysql+pymysql://root@127.0.0.1:3306/test"


def source(url, **kwargs) -> Datasource:
    """An unsaved datasource: querying needs no row in Django's database."""
    ds = Datasource(name=kwargs.pop("name", "src"), url=url, timeout_seconds=kwargs.pop("timeout", 5),
                    row_limit=kwargs.pop("row_limit", 1000))
    ds.pk = kwargs.pop("pk", abs(hash(url)) % 10**9)
    return ds


@pytest.mark.parametrize("url, needs", [
    ("postgresql://postgres@127.0.0.1:5432/test", settings.POSTGRES_AVAILABLE),
    ("mysql://root@127.0.0.1:3306/test", settings.MARIADB_AVAILABLE),
    ("mariadb://root@127.0.0.1:3306/test", settings.MARIADB_AVAILABLE),
])
def test_a_url_without_a_driver_uses_the_driver_sentinel_installs(url, needs):
    if not needs:
        pytest.skip(f"{url} is not reachable here")

    result = run_query(source(url), "SELECT 'OK' AS status")

    assert result.rows == [("OK",)]


WRITES = [
    "UPDATE {table} SET amount = 0",
    "DELETE FROM {table}",
    "INSERT INTO {table} (amount) VALUES (1)",
    "CREATE TABLE {table}_copy AS SELECT * FROM {table}",
    "WITH gone AS (DELETE FROM {table} RETURNING *) SELECT count(*) AS n FROM gone",
    "SELECT 1; DELETE FROM {table}",
    "COMMIT; DELETE FROM {table}",
    "DROP TABLE {table}",
    "SELECT nextval('{table}_id_seq')",
]


@pytest.mark.needs_postgres
@pytest.mark.parametrize("sql", WRITES)
def test_postgres_query_that_writes_fails_and_the_data_is_unchanged(pg_table, pg_datasource_url, sql):
    table, execute = pg_table
    execute("CREATE TABLE {table} (id serial PRIMARY KEY, amount numeric)")
    execute("INSERT INTO {table} (amount) VALUES (10), (20), (30)")

    with pytest.raises(QueryError) as err:
        run_query(source(pg_datasource_url), sql.replace("{table}", table))

    assert execute("SELECT count(*), sum(amount) FROM {table}") == [(3, decimal.Decimal(60))]
    assert "read-only" in str(err.value) or "statements" in str(err.value)


@pytest.mark.needs_postgres
def test_postgres_function_that_writes_is_refused(pg_table, pg_datasource_url):
    table, execute = pg_table
    execute("CREATE TABLE {table} (id serial PRIMARY KEY, amount numeric)")
    execute(f"CREATE OR REPLACE FUNCTION {table}_sneaky() RETURNS int LANGUAGE plpgsql AS "
            f"$$ BEGIN INSERT INTO {table} (amount) VALUES (99); RETURN 1; END $$")
    try:
        with pytest.raises(QueryError, match="read-only"):
            run_query(source(pg_datasource_url), f"SELECT {table}_sneaky() AS status")
        assert execute("SELECT count(*) FROM {table}") == [(0,)]
    finally:
        execute(f"DROP FUNCTION IF EXISTS {table}_sneaky()")


@pytest.mark.needs_postgres
def test_postgres_timeout_ends_as_timeout_within_3_seconds(pg_datasource_url):
    started = time.monotonic()
    with pytest.raises(QueryTimeout, match="longer than its timeout of 1 s"):
        run_query(source(pg_datasource_url, timeout=1), "SELECT 'OK' AS status FROM pg_sleep(5)")
    assert time.monotonic() - started < 3


@pytest.mark.needs_postgres
def test_postgres_values_are_json_safe(pg_datasource_url):
    result = run_query(source(pg_datasource_url), """
        SELECT 12.50::numeric AS price, 4::numeric AS count, DATE '2026-11-24' AS day,
               TIMESTAMPTZ '2026-11-24 09:00:00+00' AS at, '\\x00ff'::bytea AS raw,
               'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11'::uuid AS id, INTERVAL '90 seconds' AS wait
    """)
    assert result.as_dicts() == [{
        "price": 12.5, "count": 4, "day": "2026-11-24", "at": "2026-11-24T09:00:00+00:00",
        "raw": "base64:AP8=", "id": "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11", "wait": 90.0,
    }]


@pytest.mark.needs_postgres
def test_row_cap_fetches_cap_plus_one_and_says_truncated(pg_datasource_url):
    result = run_query(source(pg_datasource_url, row_limit=10), "SELECT g AS n FROM generate_series(1, 1000000) g")
    assert len(result.rows) == 10 and result.truncated
    exact = run_query(source(pg_datasource_url, row_limit=10), "SELECT g AS n FROM generate_series(1, 10) g")
    assert len(exact.rows) == 10 and not exact.truncated


def test_closed_port_is_an_error_without_the_password():
    with pytest.raises(QueryError) as err:
        run_query(source("postgresql+psycopg2://reader:hunter2secret@127.0.0.1:1/shop"), "SELECT 1 AS status")
    assert "hunter2secret" not in str(err.value)
    assert "127.0.0.1" in str(err.value) and "port 1" in str(err.value)


def test_missing_variable_is_named(monkeypatch):
    monkeypatch.delenv("SHOP_DB_PASSWORD", raising=False)
    with pytest.raises(QueryError, match="Environment variable SHOP_DB_PASSWORD is not set"):
        run_query(source("postgresql://reader:${SHOP_DB_PASSWORD}@127.0.0.1/shop"), "SELECT 1")


def test_variables_expand_when_connecting(monkeypatch, sqlite_db):
    url, _ = sqlite_db
    monkeypatch.setenv("KNOB_DB", url.removeprefix("sqlite:///"))
    result = run_query(source("sqlite:///${KNOB_DB}"), "SELECT value FROM knobs")
    assert result.rows == [(1.0,)]


def test_broken_sql_says_what_the_database_said(sqlite_db):
    with pytest.raises(QueryError, match="no such table: no_such_table"):
        run_query(source(sqlite_db[0]), "SELECT status FROM no_such_table")


@pytest.mark.parametrize("sql", ["DELETE FROM knobs", "UPDATE knobs SET value = 0", "DROP TABLE knobs",
                                 "INSERT INTO knobs VALUES ('x', 1)", "SELECT 1; DELETE FROM knobs"])
def test_sqlite_query_that_writes_fails_and_the_data_is_unchanged(sqlite_db, sql):
    url, _ = sqlite_db
    with pytest.raises(QueryError):
        run_query(source(url), sql)
    assert run_query(source(url), "SELECT count(*) AS n FROM knobs").rows == [(1,)]


def test_sqlite_timeout_interrupts_a_runaway_query(sqlite_db):
    started = time.monotonic()
    with pytest.raises(QueryTimeout):
        run_query(source(sqlite_db[0], timeout=1), """
            WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n) SELECT count(*) FROM n
        """)
    assert time.monotonic() - started < 3


def test_one_engine_per_datasource_rebuilt_when_the_url_changes(sqlite_db, tmp_path):
    ds = source(sqlite_db[0], pk=424242)
    first = engine_for(ds)
    assert engine_for(ds) is first
    ds.url = f"sqlite:///{tmp_path / 'other.sqlite3'}"
    assert engine_for(ds) is not first


def test_json_safe_keeps_meaning():
    assert json_safe(decimal.Decimal("1450")) == 1450
    assert json_safe(decimal.Decimal("14.50")) == 14.5
    assert json_safe(decimal.Decimal("NaN")) == "NaN"
    assert json_safe(float("inf")) == "inf"
    assert json_safe(datetime.date(2026, 1, 2)) == "2026-01-02"
    assert json_safe(b"hello") == "hello"
    assert json_safe(uuid.UUID(int=0)) == "00000000-0000-0000-0000-000000000000"


@pytest.fixture
def mariadb_table():
    import sqlalchemy as sa

    if not settings.MARIADB_AVAILABLE:
        pytest.skip(f"MariaDB not reachable at {MARIADB_URL}")
    engine = sa.create_engine(MARIADB_URL, isolation_level="AUTOCOMMIT")
    name = f"t_{uuid.uuid4().hex[:10]}"
    with engine.connect() as conn:
        conn.exec_driver_sql(f"CREATE TABLE {name} (id INT PRIMARY KEY AUTO_INCREMENT, amount INT)")
        conn.exec_driver_sql(f"INSERT INTO {name} (amount) VALUES (10), (20)")
    yield name, engine
    with engine.connect() as conn:
        conn.exec_driver_sql(f"DROP TABLE IF EXISTS {name}")
    engine.dispose()


@pytest.mark.needs_mariadb
@pytest.mark.parametrize("sql", ["DELETE FROM {t}", "UPDATE {t} SET amount = 0", "INSERT INTO {t} (amount) VALUES (1)"])
def test_mariadb_query_that_writes_fails_and_the_data_is_unchanged(mariadb_table, sql):
    name, engine = mariadb_table
    with pytest.raises(QueryError, match="READ ONLY|read only|read-only"):
        run_query(source(MARIADB_URL), sql.format(t=name))
    with engine.connect() as conn:
        assert conn.exec_driver_sql(f"SELECT count(*) FROM {name}").scalar() == 2


@pytest.mark.needs_mariadb
def test_mariadb_timeout_ends_as_timeout(mariadb_table):
    started = time.monotonic()
    with pytest.raises(QueryTimeout):
        run_query(source(MARIADB_URL, timeout=1), "SELECT SLEEP(5) AS status, 1 AS x FROM DUAL")
    assert time.monotonic() - started < 3
    assert run_query(source(MARIADB_URL), "SELECT 'OK' AS status").rows == [("OK",)]


@pytest.mark.needs_postgres
def test_postgres_broken_sql_says_what_the_database_said(pg_datasource_url):
    with pytest.raises(QueryError, match='syntax error at or near "SELEC"'):
        run_query(source(pg_datasource_url), "SELEC 'OK' AS status")


@pytest.mark.needs_postgres
def test_postgres_connection_is_usable_after_a_refused_write(pg_table, pg_datasource_url):
    table, execute = pg_table
    execute("CREATE TABLE {table} (amount int)")
    execute("INSERT INTO {table} VALUES (1)")
    ds = source(pg_datasource_url, pk=515151)
    with pytest.raises(QueryError):
        run_query(ds, f"DELETE FROM {table} RETURNING amount")
    # The pooled connection went back clean: the next query reads, still read-only.
    assert run_query(ds, f"SELECT count(*) AS n FROM {table}").rows == [(1,)]
    assert run_query(ds, "SHOW transaction_read_only").rows == [("on",)]


def test_empty_query_is_refused_with_a_clear_message(sqlite_db):
    with pytest.raises(QueryError, match="The query is empty"):
        run_query(source(sqlite_db[0]), "  -- nothing here\n;")


def test_sqlite_writing_cte_is_refused(sqlite_db):
    url, _ = sqlite_db
    with pytest.raises(QueryError):
        run_query(source(url), "WITH x AS (SELECT 1) DELETE FROM knobs")
    assert run_query(source(url), "SELECT count(*) AS n FROM knobs").rows == [(1,)]


def test_sqlite_row_cap_fetches_cap_plus_one(sqlite_db):
    result = run_query(source(sqlite_db[0], row_limit=5), """
        WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 1000000) SELECT i FROM n
    """)
    assert [r[0] for r in result.rows] == [1, 2, 3, 4, 5] and result.truncated and result.row_limit == 5


@pytest.mark.needs_mariadb
@pytest.mark.parametrize("sql", ["CREATE TABLE {t}_copy AS SELECT * FROM {t}", "SELECT 1; DELETE FROM {t}",
                                 "COMMIT; DELETE FROM {t}", "DROP TABLE {t}"])
def test_mariadb_create_drop_and_several_statements_are_refused(mariadb_table, sql):
    name, engine = mariadb_table
    with pytest.raises(QueryError):
        run_query(source(MARIADB_URL), sql.format(t=name))
    with engine.connect() as conn:
        assert conn.exec_driver_sql(f"SELECT count(*) FROM {name}").scalar() == 2
        # DDL commits implicitly in MariaDB: make sure nothing was created behind the error either.
        assert conn.exec_driver_sql(f"SHOW TABLES LIKE '{name}_copy'").fetchall() == []


@pytest.mark.needs_mariadb
def test_mariadb_broken_sql_and_json_safe_values(mariadb_table):
    with pytest.raises(QueryError, match="1064|syntax"):
        run_query(source(MARIADB_URL), "SELEC 1")
    result = run_query(source(MARIADB_URL), """
        SELECT CAST(12.50 AS DECIMAL(10,2)) AS price, DATE '2026-11-24' AS day,
               TIMESTAMP '2026-11-24 09:00:00' AS at, x'00ff' AS raw
    """)
    assert result.as_dicts() == [{"price": 12.5, "day": "2026-11-24", "at": "2026-11-24T09:00:00",
                                  "raw": "base64:AP8="}]


def test_closed_port_mariadb_is_an_error_without_the_password():
    with pytest.raises(QueryError) as err:
        run_query(source("mysql+pymysql://root:hunter2secret@127.0.0.1:1/test", timeout=2), "SELECT 1")
    assert "hunter2secret" not in str(err.value) and "127.0.0.1" in str(err.value)
