"""Run an alert's SQL on its datasource: one statement, read-only, bounded in
time and rows, values made JSON-safe, secrets kept out of every message."""

import base64
import copy
import datetime
import decimal
import functools
import json
import logging
import math
import threading
import time
import uuid
from dataclasses import dataclass, field
from urllib.parse import quote

import sqlalchemy as sa
import sqlparse
from django.conf import settings
from sqlalchemy.engine import Engine, make_url
from sqlparse.exceptions import SQLParseError

from . import isolation, sql_safety, tick_parameters
from .secrets import MissingVariable, expand, scrub, secret_values

log = logging.getLogger("sentinel.querying")

# An error message is cut here: a database may quote a whole (10 MB) value back in it.
ERROR_CHARS = 2000


class QueryError(Exception):
    """The query could not run or was refused; the message is safe to show."""


class QueryTimeout(QueryError):
    pass


@dataclass
class QueryResult:
    columns: list[str]
    rows: list[tuple]
    truncated: bool = False
    duration_ms: float = 0.0
    row_limit: int = 0
    extra: dict = field(default_factory=dict)

    def as_dicts(self) -> list[dict]:
        return [dict(zip(self.columns, row)) for row in self.rows]


_engines: dict[int, tuple[str, Engine]] = {}
_engines_lock = threading.Lock()


def engine_for(datasource) -> Engine:
    """One pooled engine per datasource per process, rebuilt when the URL changes."""
    url = expand(datasource.url, where=f"datasource {datasource.name}")
    cached = _engines.get(datasource.pk)
    if not (cached and cached[0] == url):
        # Checked for every new engine, not only at save: a row stored before, or a variable changed since.
        problem = isolation.refusal(url)
        if problem:
            raise QueryError(problem)
    with _engines_lock:
        cached = _engines.get(datasource.pk)
        if cached and cached[0] == url:
            return cached[1]
        if cached:
            cached[1].dispose()
        engine = _create_engine(url)
        _engines[datasource.pk] = (url, engine)
        return engine


def run_draft_query(datasource, sql: str, **kwargs) -> "QueryResult":
    """run_query for a datasource that is not stored (a form tested before it is saved): an engine of
    its own, under a key no other caller has, disposed afterwards, so two people testing at once never
    share one and no pool with typed-in credentials stays open in the web process."""
    key = f"draft-{uuid.uuid4().hex}"
    draft = copy.copy(datasource)
    draft.pk = key
    try:
        return run_query(draft, sql, **kwargs)
    finally:
        with _engines_lock:
            cached = _engines.pop(key, None)
        if cached:
            cached[1].dispose()


def dispose_engines() -> None:
    with _engines_lock:
        for _, engine in _engines.values():
            engine.dispose()
        _engines.clear()


# The driver a URL without one gets: the one Sentinel installs. SQLAlchemy 2.1 would pick psycopg 3
# for postgresql:// and mysqlclient for mysql://, neither of which is installed, and the run would
# fail with "No module named ..." (SQL Sentinel's files commonly say postgresql://).
SHIPPED_DRIVERS = {"postgresql": "postgresql+psycopg2", "mysql": "mysql+pymysql", "mariadb": "mariadb+pymysql"}


def _create_engine(url: str) -> Engine:
    parsed = make_url(url)
    if parsed.drivername in SHIPPED_DRIVERS:
        parsed = parsed.set(drivername=SHIPPED_DRIVERS[parsed.drivername])
    kwargs: dict = {"pool_pre_ping": True}
    if parsed.get_backend_name() == "sqlite":
        path = isolation.sqlite_file(parsed)
        if isinstance(path, str):
            # Read-only whatever the URL said (mode=rwc, uri=true, file: forms): the file isolation
            # checked, opened by SQLite itself in read-only mode; no option of the URL is kept.
            parsed = parsed.set(database=f"file:{quote(path)}?mode=ro", query={"uri": "true"})
        else:
            parsed = parsed.set(database=None, query={})  # an anonymous in-memory database
    else:
        kwargs.update(pool_size=2, max_overflow=3, pool_recycle=1800)
    if parsed.get_backend_name() == "postgresql" and parsed.get_driver_name() in ("psycopg2", "psycopg"):
        kwargs["connect_args"] = {"connect_timeout": 10}
    if parsed.get_backend_name() in ("mysql", "mariadb"):
        kwargs["connect_args"] = {"connect_timeout": 10}
    return sa.create_engine(parsed, **kwargs)


def single_statement(sql: str) -> str:
    """The one statement of `sql`, checked; QueryError says why it cannot run."""
    statement, problem = _checked(sql)
    if problem:
        raise QueryError(problem)
    return statement


# An alert runs the same SQL every tick, and parsing it costs more than running a trivial query.
# The outcome is cached, refusals included: a refused 6,000-item IN list took ~200 ms to parse again.
@functools.lru_cache(maxsize=16384)
def _checked(sql: str) -> tuple[str, str]:
    try:
        return _single_statement(sql), ""
    except QueryError as exc:
        return "", str(exc)
    except SQLParseError:
        # sqlparse stops at 10,000 tokens: a query it cannot read is one that cannot be checked.
        return "", ("The query is too long to check: it has more than 10,000 SQL tokens (words, numbers and "
                    "symbols). Shorten it, e.g. move a long IN (...) list into a table or a VALUES list you join.")


def _single_statement(sql: str) -> str:
    statements = [s.strip().rstrip(";").strip() for s in sqlparse.split(sql)]
    statements = [s for s in statements if s and sqlparse.format(s, strip_comments=True).strip()]
    if not statements:
        raise QueryError("The query is empty.")
    if len(statements) > 1:
        raise QueryError(
            f"The query holds {len(statements)} statements; an alert runs exactly one SELECT "
            "(use a CTE or a subquery to combine steps)."
        )
    try:
        sql_safety.check(statements[0])
    except sql_safety.UnsafeQuery as exc:
        raise QueryError(str(exc)) from None
    return statements[0]


def run_query(datasource, sql: str, *, timeout: float | None = None, row_limit: int | None = None,
              params: dict | None = None) -> QueryResult:
    """Run one read-only statement; raise QueryTimeout or QueryError with a message free of secrets.

    `params` are the tick parameters (alerts/ticks.py): bound by the driver when the statement uses
    them; a statement that uses none is sent exactly as written, with no parameters at all."""
    timeout = float(timeout or datasource.timeout_seconds)
    # A row written by hand or by an old version may ask for more than the maximum.
    row_limit = min(int(row_limit or datasource.row_limit), settings.SENTINEL_ROW_LIMIT_MAX)
    try:
        url = expand(datasource.url, where=f"datasource {datasource.name}")
    except MissingVariable as exc:
        raise QueryError(str(exc)) from None
    secrets = secret_values(url) + [url]
    statement = single_statement(sql)
    bound = _tick_parameters_of(statement, params)
    started = time.monotonic()
    try:
        engine = engine_for(datasource)
        with engine.connect() as conn:
            guard = _ReadOnlyGuard.for_dialect(conn, timeout)
            guard.begin()
            try:
                streams = guard.streams(statement)
                if bound:
                    values = tick_parameters.driver_values(conn.dialect.name, bound)
                    text, args = tick_parameters.for_driver(statement, conn.dialect.paramstyle, values)
                    result = conn.execution_options(stream_results=streams).exec_driver_sql(text, args)
                else:
                    options = {"no_parameters": True, "stream_results": streams}
                    result = conn.execution_options(**options).exec_driver_sql(statement)
                if not result.returns_rows:
                    raise QueryError("The statement returned no result set; alert queries must be a SELECT.")
                columns = list(result.keys())
                if len(columns) > settings.SENTINEL_MAX_COLUMNS:
                    raise QueryError(
                        f"The query returns {len(columns)} columns; an alert takes at most "
                        f"{settings.SENTINEL_MAX_COLUMNS} (SENTINEL_MAX_COLUMNS). Select the columns it needs."
                    )
                fetched = result.fetchmany(row_limit + 1)
                result.close()
            finally:
                guard.end()
    except QueryError:
        raise
    except sa.exc.SQLAlchemyError as exc:
        message = _describe(exc)
        if _is_timeout(exc):
            raise QueryTimeout(f"The query ran longer than its timeout of {timeout:g} s and was cancelled.") from None
        raise QueryError(cut(scrub(message, secrets), ERROR_CHARS)) from None
    except Exception as exc:  # driver-level errors outside SQLAlchemy's wrapping
        raise QueryError(cut(scrub(f"{type(exc).__name__}: {exc}", secrets), ERROR_CHARS)) from None
    duration_ms = (time.monotonic() - started) * 1000
    truncated = len(fetched) > row_limit
    rows = [tuple(json_safe(v) for v in row) for row in fetched[:row_limit]]
    return QueryResult(columns, rows, truncated=truncated, duration_ms=duration_ms, row_limit=row_limit)


def _tick_parameters_of(statement: str, params: dict | None) -> dict | None:
    """The tick parameters to bind, or None for a statement that uses none of them."""
    if not tick_parameters.used(statement):
        return None
    problem = tick_parameters.unknown_problem(statement)
    if problem:
        raise QueryError(problem)
    if params is None:
        raise QueryError(f"The query uses {', '.join(':' + n for n in tick_parameters.used(statement))}: "
                         "only a run for a tick binds them (a scheduled, manual or dry run).")
    return params


class _ReadOnlyGuard:
    """Make one transaction read-only and time-limited, the way each database allows."""

    def __init__(self, conn, timeout: float):
        self.conn = conn
        self.timeout = timeout
        self._deadline = None

    @classmethod
    def for_dialect(cls, conn, timeout):
        name = conn.dialect.name
        kind = {"postgresql": _PostgresGuard, "mysql": _MySQLGuard, "mariadb": _MySQLGuard, "sqlite": _SQLiteGuard}
        return kind.get(name, cls)(conn, timeout)

    def begin(self) -> None:
        pass

    def streams(self, statement: str) -> bool:
        """Whether rows come from a server-side cursor, so fetching row_limit + 1 holds only those."""
        return False

    def end(self) -> None:
        """Throw away whatever the statement did (never commit), then leave nothing on the connection
        for the next run: a lock, a variable, a setting. A connection that cannot be reset is closed,
        not returned to the pool."""
        try:
            self.conn.rollback()
            self.reset()
        except Exception as exc:
            log.warning("datasource connection closed: its reset failed (%s)", type(exc).__name__)
            self.conn.invalidate()

    def reset(self) -> None:
        # A database Sentinel knows no reset for: a fresh connection every run.
        self.conn.invalidate()

    def exec(self, sql: str) -> None:
        self.conn.exec_driver_sql(sql)


class _PostgresGuard(_ReadOnlyGuard):
    def begin(self) -> None:
        self.exec("SET TRANSACTION READ ONLY")
        self.exec(f"SET LOCAL statement_timeout = {max(1, int(self.timeout * 1000))}")
        self.exec("SET LOCAL idle_in_transaction_session_timeout = 0")

    def reset(self) -> None:
        # Session advisory locks and session settings survive the rollback; DISCARD ALL ends them all
        # (pg_advisory_unlock_all, RESET ALL, DEALLOCATE ALL, UNLISTEN *, CLOSE ALL, temporary tables).
        raw = self.conn.connection.driver_connection
        raw.autocommit = True  # DISCARD ALL cannot run inside a transaction
        try:
            with raw.cursor() as cursor:
                cursor.execute("DISCARD ALL")
        finally:
            raw.autocommit = False

    def streams(self, statement: str) -> bool:
        # psycopg2's default cursor loads the whole result (a million rows) before the first fetch;
        # a named cursor (DECLARE) holds only what is fetched. DECLARE takes a query only.
        return sql_safety.first_keyword(statement) in ("SELECT", "WITH", "VALUES", "TABLE")


class _MySQLGuard(_ReadOnlyGuard):
    def begin(self) -> None:
        dialect = self.conn.dialect
        if getattr(dialect, "is_mariadb", False) or getattr(dialect, "_is_mariadb", False):
            self.exec(f"SET SESSION max_statement_time = {max(0.001, self.timeout):.3f}")
        else:
            self.exec(f"SET SESSION max_execution_time = {max(1, int(self.timeout * 1000))}")
        # DDL (CREATE/DROP/ALTER) commits implicitly and so escapes a read-only transaction;
        # a read-only session refuses it (error 1792), and every later transaction too.
        self.exec("SET SESSION TRANSACTION READ ONLY")
        self.exec("START TRANSACTION READ ONLY")

    def streams(self, statement: str) -> bool:
        # pymysql's default cursor reads the whole result into memory; SSCursor reads as fetched.
        return True

    def reset(self) -> None:
        # GET_LOCK locks, user variables (SELECT @x := 1) and session variables outlive the rollback.
        # COM_RESET_CONNECTION (MySQL 5.7.3+, MariaDB 10.2.4+) ends them all without reconnecting;
        # pymysql sends it only through its command method.
        raw = self.conn.connection.driver_connection
        if not hasattr(raw, "_execute_command"):
            self.conn.invalidate()
            return
        raw._execute_command(COM_RESET_CONNECTION, b"")
        raw._read_ok_packet()
        # MySQL's reset also puts the character set back to the server's default (SET NAMES is a session
        # variable, per its manual), while the driver goes on decoding as it connected: say it again.
        # (MariaDB 10.11 keeps it; a latin1 default there read the same with and without this line.)
        raw.set_character_set(raw.charset, raw.collation)
        raw.autocommit(False)  # the reset turns autocommit back on; the driver expects it off


class _SQLiteGuard(_ReadOnlyGuard):
    def begin(self) -> None:
        raw = self.conn.connection.driver_connection
        deadline = time.monotonic() + self.timeout
        # SQLite has no statement timeout: the progress handler interrupts it.
        raw.set_progress_handler(lambda: 1 if time.monotonic() > deadline else 0, 10_000)
        self.exec("PRAGMA query_only = ON")

    def reset(self) -> None:
        # PRAGMA statements, ATTACH and temporary tables are refused (sql_safety); query_only is set again
        # by every run.
        self.conn.connection.driver_connection.set_progress_handler(None, 0)


COM_RESET_CONNECTION = 0x1F  # the MySQL protocol's command number


_TIMEOUT_MARKERS = (
    "canceling statement due to statement timeout",  # PostgreSQL
    "maximum statement execution time exceeded",  # MySQL 3024
    "query execution was interrupted",  # MySQL/MariaDB
    "max_statement_time",  # MariaDB 1969
    "interrupted",  # SQLite progress handler
)


def _is_timeout(exc: Exception) -> bool:
    orig = getattr(exc, "orig", None)
    if getattr(orig, "pgcode", None) == "57014":
        return True
    text = str(orig or exc).lower()
    return any(marker in text for marker in _TIMEOUT_MARKERS)


def _describe(exc: sa.exc.SQLAlchemyError) -> str:
    orig = getattr(exc, "orig", None)
    if orig is not None:
        detail = str(orig).strip()
        pgcode = getattr(orig, "pgcode", None)
        if pgcode == "25006":
            detail = f"The query tried to write and was refused (read-only transaction): {detail}"
        elif pgcode == "0A000" and "data-modifying" in detail:  # a writing CTE, refused by DECLARE
            detail = f"The query tried to write and was refused (read-only): {detail}"
        return f"{type(orig).__name__}: {detail}"
    return f"{type(exc).__name__}: {exc}"


def cut(value, limit: int):
    """A value of at most `limit` characters as JSON: a text cut (plus a note of its length), a list or
    mapping whose JSON is longer replaced by the start of that JSON text (and a note); other values as
    they are. A query may return, or a database quote back, megabytes in one cell, nested ones too."""
    if isinstance(value, str) and len(value) > limit:
        return value[:limit] + f"... ({len(value)} characters)"
    if isinstance(value, (list, tuple, dict)):
        text = json.dumps(value, ensure_ascii=False, default=str)
        if len(text) > limit:
            return text[:limit] + f"... ({len(text)} characters of JSON)"
    return value


def cut_row(values, cell_limit: int, row_limit: int) -> list:
    """The values of one row, each cut so that the row stays within about `row_limit` characters:
    a wide row gets a smaller share per cell (at least 32)."""
    values = list(values)
    share = max(32, row_limit // max(1, len(values)))
    return [cut(v, min(cell_limit, share)) for v in values]


def json_safe(value):
    """A value that json.dumps accepts and that keeps its meaning for people."""
    if isinstance(value, str):
        # PostgreSQL stores no NUL character (text or jsonb): one in a cell would fail the whole batch's record.
        return value.replace("\x00", "\ufffd") if "\x00" in value else value
    if value is None or isinstance(value, (bool, int)):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else str(value)
    if isinstance(value, decimal.Decimal):
        if not value.is_finite():
            return str(value)
        if value == value.to_integral_value() and value.as_tuple().exponent >= 0:
            return int(value)
        return float(value)
    if isinstance(value, (datetime.datetime, datetime.date, datetime.time)):
        return value.isoformat()
    if isinstance(value, datetime.timedelta):
        return value.total_seconds()
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, (bytes, bytearray, memoryview)):
        raw = bytes(value)
        try:
            return json_safe(raw.decode("utf-8"))
        except UnicodeDecodeError:
            return "base64:" + base64.b64encode(raw).decode("ascii")
    if isinstance(value, (list, tuple)):
        return [json_safe(v) for v in value]
    if isinstance(value, dict):
        return {str(k): json_safe(v) for k, v in value.items()}
    return str(value)
