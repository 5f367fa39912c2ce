"""A datasource never reaches Sentinel's own database or broker, and a SQLite datasource opens
only a file under the directories the operator allows (docs/security.md §1).

Checked on the expanded URL (after ${VAR}) when a datasource is saved (alerts/validation.py) and
again whenever its engine is made (alerts/querying.py), so a row stored before this check, or an
environment variable changed since, is refused when it runs. Hosts are compared by address
(localhost, 127.0.0.1, ::1 and this machine's own names are one host), ports with their defaults,
SQLite files by their real path (symlinks, `file:` URIs and query options resolved). Messages
never repeat the URL: once expanded it may hold a secret.
"""

import functools
import ipaddress
import os
import socket
from urllib.parse import unquote, urlsplit

from django.conf import settings
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

DEFAULT_PORTS = {"postgresql": 5432, "mysql": 3306, "mariadb": 3306, "redis": 6379, "rediss": 6379,
                 "amqp": 5672, "amqps": 5671}
OWN = "Sentinel's own {what}: a datasource can never reach it (docs/security.md §1)."
LOCAL = "this machine"


class Memory:
    """A SQLite database that lives in memory: no file to check."""


def refusal(url: str) -> str:
    """Why a datasource with this (expanded) URL may not connect; '' when it may."""
    try:
        parsed = make_url(url)
    except (ArgumentError, ValueError):
        return ""  # validation says it is no URL; connecting fails on its own
    if parsed.get_backend_name() == "sqlite":
        return _sqlite_refusal(parsed)
    if "service" in parsed.query:
        return "A connection service (?service=) hides where the datasource connects: write host, port and database."
    for what, target in _own_servers():
        if _same_server(_server(parsed), target, compare_database=target[2] is not None):
            return OWN.format(what=what)
    return ""


def sqlite_file(url) -> str | type[Memory] | None:
    """The real path of a SQLite URL's file; Memory for an anonymous in-memory database;
    None when the URL names a shared (named) in-memory database, which is refused."""
    parsed = make_url(url) if isinstance(url, str) else url
    database = parsed.database or ""
    query = dict(parsed.query)
    if database.startswith("file:"):
        rest = database[len("file:"):]
        rest, _, inner = rest.partition("?")
        query.update(p.split("=", 1) for p in inner.split("&") if "=" in p)
        rest = rest.split("#", 1)[0]
        if rest.startswith("//"):  # file://host/path: the host must be empty or localhost
            rest = "/" + rest[2:].split("/", 1)[1] if "/" in rest[2:] else ""
        database = unquote(rest)
    if query.get("mode") == "memory" or database.startswith(":memory:") or not database:
        return Memory if database in ("", ":memory:") else None
    return os.path.realpath(database)


def _sqlite_refusal(parsed) -> str:
    path = sqlite_file(parsed)
    if path is Memory:
        return ""
    if path is None:
        return "A named in-memory SQLite database is shared inside Sentinel's own process: use a file."
    for what, own in _own_files():
        if path == own or path.startswith(own + "-") or _same_file(path, own):
            return OWN.format(what=what)
    allowed = [os.path.realpath(d) for d in settings.SENTINEL_SQLITE_DIRS]
    if not any(os.path.commonpath([path, d]) == d for d in allowed):
        where = ", ".join(allowed) or "none: the operator has allowed no directory"
        return (f"A SQLite datasource's file must be under a directory the operator allows in "
                f"SENTINEL_SQLITE_DIRS ({where}); this one is not.")
    return ""


def _same_file(a: str, b: str) -> bool:
    try:
        return os.path.samefile(a, b)
    except OSError:
        return False


# --- what is Sentinel's own ------------------------------------------------------------------


def _own_files() -> list[tuple[str, str]]:
    files = []
    db = settings.DATABASES["default"]
    name = str(db.get("NAME") or "")
    if db["ENGINE"].endswith("sqlite3") and name and ":memory:" not in name and "mode=memory" not in name:
        files.append(("database", os.path.realpath(name)))
    broker = settings.CELERY_BROKER_URL or ""
    if broker.startswith("sqla+"):
        try:
            path = sqlite_file(broker[len("sqla+"):])
        except (ArgumentError, ValueError):
            path = None
        if isinstance(path, str):
            files.append(("broker", path))
    return files


def _own_servers() -> list[tuple[str, tuple]]:
    servers = []
    db = settings.DATABASES["default"]
    if not db["ENGINE"].endswith("sqlite3"):
        kind = "mysql" if "mysql" in db["ENGINE"] else "postgresql"
        port = int(db.get("PORT") or DEFAULT_PORTS[kind])
        servers.append(("database", (_addresses(db.get("HOST") or ""), port, str(db.get("NAME") or ""))))
    broker = settings.CELERY_BROKER_URL or ""
    if "://" in broker and not broker.startswith(("sqla+", "memory:")):
        parts = urlsplit(broker)
        port = parts.port or DEFAULT_PORTS.get(parts.scheme.split("+")[0])
        servers.append(("broker", (_addresses(parts.hostname or ""), port, None)))
    return servers


# --- where a URL connects ----------------------------------------------------------------------


def _server(parsed) -> tuple:
    """(addresses, port, database) a datasource URL connects to; query options (?host=, ?port=,
    ?dbname=) win over the URL's parts, as the drivers read them."""
    query = {k: (v[-1] if isinstance(v, tuple) else v) for k, v in parsed.query.items()}
    hosts = (query.get("host") or parsed.host or "").split(",")
    addresses = set().union(*(_addresses(h.strip()) for h in hosts))
    port = query.get("port") or parsed.port or DEFAULT_PORTS.get(parsed.get_backend_name())
    try:
        port = int(str(port).split(",")[0])
    except ValueError:
        pass
    database = query.get("dbname") or query.get("database") or query.get("db") or parsed.database or ""
    return addresses, port, database


def _same_server(a: tuple, b: tuple, compare_database: bool) -> bool:
    if not (a[0] & b[0]) or a[1] != b[1]:
        return False
    return not compare_database or a[2].lower() == b[2].lower()


def _addresses(host: str) -> set[str]:
    """The addresses a host name stands for, with every address of this machine as LOCAL.
    A name that does not resolve stands for itself: it cannot connect anywhere now, and is
    checked again when it is used."""
    host = host.strip().strip("[]").lower()
    if not host or host.startswith("/") or host == "localhost":  # empty or a socket path: this machine
        return {LOCAL}
    try:
        found = {info[4][0] for info in socket.getaddrinfo(host, None)}
    except (OSError, UnicodeError):
        return {host}
    return {LOCAL if _is_local(a) else a for a in found}


def _is_local(address: str) -> bool:
    try:
        ip = ipaddress.ip_address(address.split("%", 1)[0])
    except ValueError:
        return False
    if getattr(ip, "ipv4_mapped", None):
        ip = ip.ipv4_mapped
    return ip.is_loopback or ip.is_unspecified or str(ip) in _machine_addresses()


@functools.lru_cache(maxsize=1)
def _machine_addresses() -> frozenset[str]:
    """This machine's own addresses, looked up once per process (getfqdn may wait on DNS)."""
    names = {socket.gethostname(), socket.getfqdn()}
    found = set()
    for name in names:
        try:
            found |= {info[4][0] for info in socket.getaddrinfo(name, None)}
        except (OSError, UnicodeError):
            pass
    return frozenset(found)
