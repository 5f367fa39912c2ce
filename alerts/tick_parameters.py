"""The four names a tick-bound query may use (:tick, :window_start, :window_end, :last_success),
found the way the database reads the SQL, and handed to the driver in its own parameter style.

A `:name` counts only where the database would see a parameter: not inside a string literal, a
comment or a quoted identifier, and a PostgreSQL cast (`at::date`) is no parameter. sqlparse tells
them apart, as it does for the safety check (alerts/sql_safety.py). A query that names none of the
four runs exactly as it is written (alerts/querying.py), so `%` and `:` in it never change meaning.
The values themselves (which tick, which window) come from alerts/ticks.py.
"""

import functools
import re
from datetime import datetime, timezone

import sqlparse
from sqlparse import tokens as T
from sqlparse.exceptions import SQLParseError

NAMES = ("tick", "window_start", "window_end", "last_success")
KNOWN = ", ".join(f":{n}" for n in NAMES[:-1]) + f" and :{NAMES[-1]}"
# `:name` as a parameter; `:3` (an array slice, arr[:3]) is none.
_NAMED = re.compile(r":([A-Za-z_]\w*)$")


@functools.lru_cache(maxsize=16384)  # asked on every run of the same SQL
def placeholders(sql: str) -> tuple[str, ...]:
    """The :names the SQL uses as parameters, each once, in the order they first appear."""
    if ":" not in sql:  # most queries: no parsing at all
        return ()
    try:
        statements = sqlparse.parse(sql)
    except SQLParseError:  # too long to read: the one-statement check refuses it with its own message
        return ()
    found: list[str] = []
    for statement in statements:
        for token in statement.flatten():
            match = _NAMED.match(token.value) if token.ttype in T.Name.Placeholder else None
            if match and match[1] not in found:
                found.append(match[1])
    return tuple(found)


def used(sql: str) -> tuple[str, ...]:
    """The tick parameters the SQL uses; empty for a query that runs as written."""
    return tuple(n for n in placeholders(sql) if n in NAMES)


def unknown_problem(sql: str) -> str:
    """Why the SQL cannot be saved for its :names ('' when every one is known)."""
    unknown = [n for n in placeholders(sql) if n not in NAMES]
    if not unknown:
        return ""
    listed = ", ".join(f":{n}" for n in unknown[:5])
    return (f"The query uses {listed}, which Sentinel does not bind: an alert query may use {KNOWN} "
            "(docs/writing-alerts.md, Tick-bound queries). Inside a string literal or a comment, "
            "or as a PostgreSQL ::cast, a colon is not a parameter.")


def driver_values(dialect: str, values: dict[str, datetime | None]) -> dict:
    """The values as the database compares them with its own timestamps: PostgreSQL a timestamptz
    (an aware UTC datetime), MySQL/MariaDB a DATETIME in UTC (naive), SQLite ISO-8601 text in UTC,
    'YYYY-MM-DD HH:MM:SS', the form datetime('now') returns. NULL stays NULL."""
    out = {}
    for name, value in values.items():
        if value is not None:
            value = value.astimezone(timezone.utc)
            if dialect in ("mysql", "mariadb"):
                value = value.replace(tzinfo=None)
            elif dialect == "sqlite":
                value = value.strftime("%Y-%m-%d %H:%M:%S")
        out[name] = value
    return out


def for_driver(statement: str, paramstyle: str, values: dict) -> tuple[str, dict | tuple]:
    """The statement and its parameters in the driver's paramstyle (PEP 249). psycopg2 and pymysql
    (pyformat) read every `%` of the text, literals and comments included, so each is doubled;
    sqlite3 (qmark) takes `?` in order."""
    text, order = _driver_text(statement, paramstyle)
    if paramstyle in ("pyformat", "named"):
        return text, {name: values[name] for name in order}
    return text, tuple(values[name] for name in order)


@functools.lru_cache(maxsize=4096)  # the same text every tick; only the values change
def _driver_text(statement: str, paramstyle: str) -> tuple[str, tuple[str, ...]]:
    """(the statement with each tick parameter in the paramstyle's form, the names in the order bound)."""
    pieces: list[str] = []
    order: list[str] = []
    percent = paramstyle in ("format", "pyformat")
    for token in sqlparse.parse(statement)[0].flatten():
        match = _NAMED.match(token.value) if token.ttype in T.Name.Placeholder else None
        if match and match[1] in NAMES:
            name = match[1]
            if paramstyle in ("pyformat", "named"):
                pieces.append(f"%({name})s" if paramstyle == "pyformat" else f":{name}")
                order += [] if name in order else [name]
            else:
                order.append(name)
                pieces.append({"format": "%s", "qmark": "?"}.get(paramstyle, f":{len(order)}"))
        else:
            pieces.append(token.value.replace("%", "%%") if percent else token.value)
    return "".join(pieces), tuple(order)
