"""What may be saved, checked the same way by every face: the admin's forms, the
API (through the config checks) and config files (alerts/config/schema.py).

Two kinds of check live here:

- offline checks that refuse to save an alert or a datasource that can never
  run: a query the one-statement rule or the safety check refuses
  (alerts/querying.py, alerts/sql_safety.py) or a `:name` that is none of the
  four tick parameters (alerts/tick_parameters.py), a datasource URL that does not
  parse or names a driver that is not installed. They never connect.
- `prepare`, which asks the datasource to plan a query without running it
  (EXPLAIN, in the read-only, time-bounded session alerts/querying.py sets up),
  to report a missing table or a syntax error. It never blocks a save: the
  datasource may be down, or the table may be created tomorrow.

The runner still checks every query before it runs (a row written by hand, by an
old version, or by a factory in a test, skips these checks).
"""

import re
import threading
from dataclasses import dataclass

from django.core.exceptions import ValidationError
from django.utils import timezone
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, NoSuchModuleError

from . import isolation
from .querying import SHIPPED_DRIVERS, QueryError, QueryTimeout, run_query, single_statement
from .secrets import MissingVariable, expand, scrub
from .sql_safety import first_keyword
from .tick_parameters import NAMES, unknown_problem

# --- offline: what can be saved ---------------------------------------------------------------


def check_query(sql: str) -> list[str]:
    """The reasons this SQL can never run as an alert (empty when it may be saved).

    A query that reads a table that does not exist passes: that is only known by
    asking the datasource (see `prepare`)."""
    try:
        single_statement(sql or "")
    except QueryError as exc:
        return [str(exc)]
    # Refused at save, not only at run: a misspelt :windw_start would page people at every tick.
    problem = unknown_problem(sql)
    return [problem] if problem else []


def validate_query(sql: str) -> None:
    """Raise ValidationError with the reason the query can never run."""
    problems = check_query(sql)
    if problems:
        raise ValidationError(problems)


def check_datasource_url(url: str, environ=None) -> list[str]:
    """The reasons this SQLAlchemy URL can never connect, found without connecting.

    ${VAR} references are expanded first (an unset one without a default, or one
    the operator does not allow, is a problem); postgresql:// and mysql:// get the
    driver Sentinel ships, as when connecting; the dialect must load and its driver
    (DBAPI) must import; the URL must not reach Sentinel's own database or broker,
    nor a SQLite file outside the allowed directories. No message repeats the URL:
    once expanded it may hold a password."""
    url = (url or "").strip()
    if not url:
        return ["Required: the database's SQLAlchemy URL."]
    try:
        expanded = expand(url, environ=environ)
    except MissingVariable as exc:  # unset, or not one definitions may read (alerts/secrets.py)
        return [exc.problem()]
    try:
        parsed = make_url(expanded)
    except (ArgumentError, ValueError):
        return ["Not a database URL: use the SQLAlchemy form, e.g. "
                "postgresql://user:${DB_PASSWORD}@host:5432/dbname."]
    if parsed.drivername in SHIPPED_DRIVERS:
        parsed = parsed.set(drivername=SHIPPED_DRIVERS[parsed.drivername])
    try:
        dialect = parsed.get_dialect()
    except NoSuchModuleError:
        return [f"Unknown database kind {parsed.drivername!r}: use postgresql, mysql, sqlite, "
                "or a dialect whose package is installed."]
    try:
        dialect.import_dbapi()
    except ImportError as exc:
        return [f"The driver of {parsed.drivername!r} is not installed ({exc}): install its package, or use "
                "postgresql://, mysql:// or sqlite:// (their drivers come with Sentinel)."]
    # Never Sentinel's own database or broker; SQLite only where the operator allows (alerts/isolation.py).
    problem = isolation.refusal(expanded)
    return [problem] if problem else []


def validate_datasource_url(url: str) -> None:
    problems = check_datasource_url(url)
    if problems:
        raise ValidationError(problems)


# --- online: does the datasource understand the query? --------------------------------------------

# Databases whose EXPLAIN plans a SELECT without running it.
PREPARED_DIALECTS = ("postgresql", "mysql", "mariadb", "sqlite")
# Reading statements EXPLAIN cannot be put in front of (EXPLAIN EXPLAIN, EXPLAIN SHOW are not SQL). Any
# other first word the safety check lets through is SELECT, WITH, VALUES, TABLE or a typo (SELEC), whose
# syntax error EXPLAIN reports.
UNPREPARABLE = ("SHOW", "EXPLAIN")

# What the database's error says, in the words a person looks for (PostgreSQL, SQLite, MySQL/MariaDB).
KINDS = (
    ("missing table", re.compile(r"UndefinedTable|no such table|\(1146,|Table '[^']*' doesn't exist", re.I)),
    ("missing column", re.compile(r"UndefinedColumn|no such column|\(1054,|Unknown column", re.I)),
    ("syntax error", re.compile(r"SyntaxError|syntax error|\(1064,|error in your SQL syntax", re.I)),
)


@dataclass
class Prepared:
    """What preparing a query found: a problem with the query, or why it could not be checked."""

    problem: str = ""  # "missing table: relation \"orders\" does not exist", ...: the query will fail
    not_checked: str = ""  # the datasource could not be reached, or the query cannot be prepared
    unreachable: bool = False  # not_checked because the datasource did not answer

    @property
    def ok(self) -> bool:
        return not self.problem and not self.not_checked


def prepare(datasource, sql: str, timeout: float | None = None) -> Prepared:
    """Ask the datasource to plan the query (EXPLAIN) without running it, within `timeout`
    seconds (default the datasource's). Never raises; never runs the query itself."""
    timeout = float(timeout or datasource.timeout_seconds)
    answer: list[Prepared] = []

    def work():
        try:
            answer.append(_prepare(datasource, sql, timeout))
        except Exception as exc:  # a bug here must not turn a save into a 500
            answer.append(Prepared(not_checked=f"the check itself failed ({type(exc).__name__})"))

    # The connect timeout of a driver is its own (10 s); the thread bounds the whole check.
    thread = threading.Thread(target=work, name="sentinel-prepare", daemon=True)
    thread.start()
    thread.join(timeout + 1)
    if not answer:
        return Prepared(not_checked=f"{datasource.name} did not answer within {timeout:g} s", unreachable=True)
    return answer[0]


def _prepare(datasource, sql: str, timeout: float) -> Prepared:
    try:
        statement = single_statement(sql)
    except QueryError as exc:
        return Prepared(problem=str(exc))
    try:
        dialect = make_url(_connect_url(datasource)).get_backend_name()
    except (ArgumentError, ValueError, MissingVariable, NoSuchModuleError) as exc:
        # A parse error may quote the expanded URL: scrub what ${VAR} put there.
        return Prepared(not_checked=f"cannot reach {datasource.name}: {scrub(_first_line(exc))}", unreachable=True)
    if dialect not in PREPARED_DIALECTS:
        return Prepared(not_checked=f"queries on {dialect} cannot be prepared without running them")
    if first_keyword(statement) in UNPREPARABLE:
        return Prepared(not_checked=f"a {first_keyword(statement)} statement cannot be prepared")
    try:
        # Planning needs values of the right type, not the tick's: the same instant for each.
        now = timezone.now()
        run_query(datasource, f"EXPLAIN {statement}", timeout=timeout, row_limit=1,
                  params={name: now for name in NAMES})
    except QueryTimeout:
        return Prepared(not_checked=f"{datasource.name} did not plan the query within {timeout:g} s")
    except QueryError as planned:
        # Tell a query the database refuses from a database that cannot be reached.
        try:
            run_query(datasource, "SELECT 1", timeout=timeout, row_limit=1)
        except QueryError as unreachable:
            return Prepared(not_checked=f"cannot reach {datasource.name}: {_first_line(unreachable)}",
                            unreachable=True)
        return Prepared(problem=describe_failure(str(planned)))
    return Prepared()


def describe_failure(message: str) -> str:
    """'missing table: relation "orders" does not exist' from a database's error text."""
    line = re.sub(r"^[A-Za-z_.]+(Error|Exception|Table|Column): ", "", _first_line(message))
    for kind, pattern in KINDS:
        if pattern.search(message):
            return f"{kind}: {line}"
    return line


def _connect_url(datasource) -> str:
    return expand(datasource.url, where=f"datasource {datasource.name}")


def _first_line(value) -> str:
    text = str(value).strip()
    return (text.splitlines() or [""])[0][:500]


def save_note(alert) -> tuple[str, str] | None:
    """What to tell the person who just saved `alert`: ("warning", ...) when its datasource refuses
    the query, ("info", ...) when the datasource could not be asked; None when it plans the query."""
    prepared = prepare(alert.datasource, alert.query)
    if prepared.problem:
        return "warning", (f"{alert.name} was saved, but its query fails on {alert.datasource.name}: "
                           f"{prepared.problem}. Each run records an error until it is fixed.")
    if prepared.not_checked:
        return "info", f"{alert.name}: the query was not checked against its datasource ({prepared.not_checked})."
    return None
