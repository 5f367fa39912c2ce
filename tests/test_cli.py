import os
import subprocess
import sys
from datetime import timedelta

import pytest
from django.core.management import CommandError
from django.db import connection
from django.utils import timezone

from alerts.models import Alert, Execution, ExecutionStatus, Trigger
from tests.factories import LEVEL_QUERY
from tests.factories import sentinel

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def level_alert(sqlite_db, make_datasource, make_alert, log_channel):
    url, set_knob = sqlite_db
    return make_alert(make_datasource(url), LEVEL_QUERY, name="level_high", channels=[log_channel]), set_knob


def test_run_prints_outcome_and_records_a_cli_execution(level_alert):
    alert, set_knob = level_alert
    set_knob("level", 9)

    code, out = sentinel("run", "level_high")

    assert code == 0
    assert "level_high: ALERT" in out and "value 9" in out
    assert "firing -> log: sent" in out
    execution = Execution.objects.get(alert=alert)
    assert execution.trigger == Trigger.CLI and execution.status == ExecutionStatus.ALERT


def test_run_exits_1_when_the_query_fails(sqlite_db, make_datasource, make_alert):
    url, _ = sqlite_db
    make_alert(make_datasource(url), "SELECT status FROM no_such_table", name="broken")

    code, out = sentinel("run", "broken")

    assert code == 1
    assert "broken: ERROR" in out and "no such table: no_such_table" in out


def test_dry_run_records_nothing(level_alert):
    alert, set_knob = level_alert
    set_knob("level", 9)

    code, out = sentinel("run", "level_high", "--dry-run")

    assert code == 0
    assert "ALERT (dry run" in out and "would become FIRING; firing" in out
    assert not Execution.objects.exists()


def test_unknown_alert_is_bad_usage_with_a_hint(level_alert):
    with pytest.raises(CommandError) as err:
        sentinel("run", "level_hig")
    assert err.value.returncode == 2
    assert "No alert named 'level_hig'" in str(err.value) and "level_high" in str(err.value)


def test_status_and_history_show_the_latest_run(level_alert):
    alert, set_knob = level_alert
    set_knob("level", 9)
    sentinel("run", "level_high")

    _, status = sentinel("status")
    _, history = sentinel("history", "level_high", "--limit", "5")

    assert "level_high" in status and "FIRING" in status and "ALERT" in status
    assert "cli" in history and "ALERT" in history


def test_silence_then_unsilence(level_alert):
    alert, _ = level_alert

    code, out = sentinel("silence", "level_high", "--for", "1h30m", "--reason", "deploy")
    alert.refresh_from_db()

    assert code == 0 and "silenced until" in out
    remaining = alert.silenced_until - timezone.now()
    assert timedelta(minutes=89) < remaining <= timedelta(minutes=90)
    assert alert.silence_reason == "deploy" and alert.silenced_by.startswith("cli:")

    code, out = sentinel("unsilence", "level_high")
    alert.refresh_from_db()
    assert code == 0 and alert.silenced_until is None


@pytest.mark.parametrize("duration", ["soon", "0m", "2 fortnights"])
def test_silence_rejects_unreadable_durations(level_alert, duration):
    with pytest.raises(CommandError) as err:
        sentinel("silence", "level_high", "--for", duration, "--reason", "deploy")
    assert err.value.returncode == 2
    assert Alert.objects.get(name="level_high").silenced_until is None


def test_exit_codes_from_a_real_process(level_alert):
    """What a shell script sees: 0 for a firing alert, 2 for bad usage."""
    alert, set_knob = level_alert
    set_knob("level", 9)
    db = connection.settings_dict
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "sentinel_project.settings"}
    if db["ENGINE"].endswith("postgresql"):
        env["DATABASE_URL"] = f"postgresql://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}"
        env["SECRET_KEY"] = "cli-process-test-only-" + "k" * 40  # a deployment brings its own key
    else:
        pytest.skip("an in-memory SQLite test database cannot be shared with a subprocess")

    ok = subprocess.run([sys.executable, "manage.py", "sentinel", "run", "level_high"], env=env,
                        capture_output=True, text=True, timeout=60)
    usage = subprocess.run([sys.executable, "manage.py", "sentinel", "run"], env=env,
                           capture_output=True, text=True, timeout=60)

    assert ok.returncode == 0, ok.stderr
    assert "level_high: ALERT" in ok.stdout
    assert usage.returncode == 2 and "NAME" in usage.stderr
