"""Small builders for the things most tests need: a datasource, an alert, a channel."""

import sqlite3

import pytest

from alerts.models import Alert, Channel, Datasource


@pytest.fixture
def sqlite_db(tmp_path):
    """A SQLite file with a `knobs` table the tests turn to steer outcomes.

    Returns (url, set_knob) where set_knob(name, value) writes through a separate connection."""
    path = tmp_path / "source.sqlite3"
    with sqlite3.connect(path) as conn:
        conn.execute("CREATE TABLE knobs (name TEXT PRIMARY KEY, value REAL)")
        conn.execute("INSERT INTO knobs VALUES ('level', 1)")

    def set_knob(name, value):
        with sqlite3.connect(path) as conn:
            conn.execute("INSERT OR REPLACE INTO knobs VALUES (?, ?)", (name, value))

    return f"sqlite:///{path}", set_knob


@pytest.fixture
def make_datasource(db):
    def make(url, name="source", **kwargs):
        return Datasource.objects.create(name=name, url=url, **kwargs)

    return make


@pytest.fixture
def make_alert(db):
    counter = iter(range(1, 1_000_000))

    def make(datasource, query, name=None, channels=(), **kwargs):
        alert = Alert.objects.create(
            name=name or f"alert-{next(counter)}", datasource=datasource, query=query, **kwargs
        )
        alert.channels.set(channels)
        return alert

    return make


@pytest.fixture
def log_channel(db):
    return Channel.objects.create(name="log", kind="log")


# A status-mode query on the sqlite_db fixture: ALERT while knob `level` is above 5.
LEVEL_QUERY = (
    "SELECT CASE WHEN value > 5 THEN 'ALERT' ELSE 'OK' END AS status, value AS actual_value, "
    "5 AS threshold FROM knobs WHERE name = 'level'"
)


def sentinel(*args) -> tuple[int, str]:
    """Run `manage.py sentinel ARGS` in-process; return (exit code, what it printed)."""
    import io

    from django.core.management import call_command

    out = io.StringIO()
    try:
        call_command("sentinel", *args, stdout=out)
    except SystemExit as exc:
        return exc.code, out.getvalue()
    return 0, out.getvalue()
