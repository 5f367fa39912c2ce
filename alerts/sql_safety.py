"""What an alert query may be, checked before it reaches the database.

The read-only transaction (alerts/querying.py) refuses writes to tables, but not
everything that harms a server is a write. On PostgreSQL a read-only
transaction still lets through `COPY ... TO PROGRAM` (a shell command), `DO`
blocks, `LOAD`, and calls such as `pg_terminate_backend()` or `pg_reload_conf()`;
MySQL runs `KILL` and `SELECT ... INTO OUTFILE`. So a statement must start with
a reading keyword, and may not name a server-administration, file or lock
function, quoted or schema-qualified, in any case, not even inside a comment
(sqlparse reads `#` as a comment where PostgreSQL reads an operator). MySQL and
MariaDB run the inside of an executable comment (`/*! ... */`, `/*M! ... */`)
as SQL while every parser sees a comment, so those are refused outright. A
datasource role without superuser rights is still the real protection
(docs/writing-alerts.md); this catches the obvious. The list and the reasons
are in docs/security.md, section 5.
"""

import functools
import re

import sqlparse
from sqlparse import tokens as T

# The first keyword of a statement that only reads.
READING_KEYWORDS = ("SELECT", "WITH", "VALUES", "TABLE", "SHOW", "EXPLAIN")
# Statement words sqlparse does not mark as keywords. Any other first word that is no SQL
# keyword at all (a typo such as SELEC) goes to the database, which answers with its syntax error.
OTHER_STATEMENTS = frozenset({"KILL", "SHUTDOWN", "INSTALL", "UNINSTALL", "PURGE", "IMPORT", "HANDLER", "DISCARD",
                              "REFRESH", "RESTART", "CLONE", "BINLOG", "CACHE", "CHANGE", "OPTIMIZE", "REPAIR",
                              # SQLite: PRAGMA sets (query_only = OFF, writable_schema) as well as reads; its
                              # read-only forms are the table-valued functions, SELECT * FROM pragma_table_info('t').
                              "PRAGMA"})

# Functions that act on the server rather than read data, or run SQL given as text.
ADMIN_FUNCTIONS = frozenset({
    "pg_terminate_backend", "pg_cancel_backend", "pg_reload_conf", "pg_rotate_logfile", "set_config",
    "pg_promote", "pg_switch_wal", "pg_create_restore_point", "pg_log_backend_memory_contexts",
    "lo_import", "lo_export", "lo_unlink", "lo_from_bytea", "lo_put",
    "lo_creat", "lo_create", "lo_truncate", "lo_truncate64",
    "pg_read_file", "pg_read_binary_file", "pg_stat_file", "pg_file_write", "pg_file_unlink", "pg_file_rename",
    "pg_file_sync", "pg_notify", "pg_import_system_collations", "pg_backup_start", "pg_backup_stop",
    "pg_start_backup", "pg_stop_backup", "pg_wal_replay_pause", "pg_wal_replay_resume",
    "query_to_xml", "query_to_xml_and_xmlschema", "query_to_xmlschema", "cursor_to_xml",
    # MySQL/MariaDB: server files, and named locks that outlive the transaction.
    "load_file", "get_lock", "release_lock", "release_all_locks", "sys_exec", "sys_eval",
    "load_extension", "readfile", "writefile",  # SQLite (the last two: its shell's file functions)
})
# Families: remote connections, directory listings, statistics resets, advisory locks (held by the
# session, not the transaction), replication slots and origins (a slot keeps WAL forever).
ADMIN_PREFIXES = ("dblink", "pg_ls_", "pg_stat_reset", "pg_advisory_", "pg_try_advisory_", "pg_create_",
                  "pg_drop_", "pg_copy_", "pg_logical_", "pg_replication_")
# /*! ... */ and /*M! ... */ (with an optional version, /*!50001 ... */): SQL to MySQL and MariaDB.
EXECUTABLE_COMMENT = re.compile(r"/\*M?!", re.I)
# MySQL writes a server file with SELECT ... INTO OUTFILE / DUMPFILE.
FILE_KEYWORDS = frozenset({"OUTFILE", "DUMPFILE"})

_WORD = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


class UnsafeQuery(Exception):
    """The statement was refused before it ran; the message says why."""


def _tokens(statement: str, comments: bool = False) -> list:
    parsed = sqlparse.parse(statement)[0]
    return [t for t in parsed.flatten() if not t.is_whitespace and (comments or t.ttype not in T.Comment)]


def _first(statement: str):
    return next((t for t in _tokens(statement) if t.ttype is not T.Punctuation), None)


@functools.lru_cache(maxsize=16384)  # asked on every run of the same SQL (querying.streams)
def first_keyword(statement: str) -> str:
    """The statement's first word in upper case, past any opening parentheses and comments."""
    first = _first(statement)
    return first.value.split()[0].upper() if first is not None and first.value.split() else ""


def check(statement: str) -> None:
    """Raise UnsafeQuery unless one statement only reads (see the module docstring)."""
    if EXECUTABLE_COMMENT.search(statement):
        raise UnsafeQuery(
            "The query holds a MySQL executable comment (/*! ... */ or /*M! ... */), which MySQL and MariaDB "
            "run as SQL; alert queries may not use them (write the SQL itself, or a plain /* comment */)."
        )
    first, word = _first(statement), first_keyword(statement)
    is_statement = first is not None and (first.ttype in T.Keyword or word in OTHER_STATEMENTS)
    if is_statement and word not in READING_KEYWORDS:
        raise UnsafeQuery(
            f"The query starts with {word[:40]} and was refused: alert queries are read-only "
            f"and start with {', '.join(READING_KEYWORDS[:-1])} or {READING_KEYWORDS[-1]}."
        )
    for token in _tokens(statement, comments=True):
        if token.ttype in T.Literal.String or token.ttype in T.Comment:
            # SQL inside a string (query_to_xml('...'), a dollar-quoted body) counts too, and so does a
            # "comment" the database may not read as one.
            names = _WORD.findall(token.value)
        else:
            names = [token.value.strip('"`[]')]
        for name in names:
            denied = _denied(name)
            if denied:
                raise UnsafeQuery(
                    f"The query calls {denied}(), which alert queries may not call (it administers the "
                    "server, reads or writes its files, takes a lock that outlives the query, or runs SQL "
                    "given as text), and was refused."
                )
        is_code = token.ttype not in T.Literal.String and token.ttype not in T.Comment
        if is_code and token.value.upper() in FILE_KEYWORDS:
            raise UnsafeQuery(
                f"The query writes a file (INTO {token.value.upper()}) and was refused: alert queries only read."
            )


def _denied(name: str) -> str:
    lowered = name.lower()
    if lowered in ADMIN_FUNCTIONS or lowered.startswith(ADMIN_PREFIXES):
        return lowered
    return ""
