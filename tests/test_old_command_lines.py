"""SQL Sentinel's command lines typed at `sentinel`: each works with the same meaning, or answers
(exit 2) with the exact new command to type (alerts/cli/old_forms.py)."""

import json
import os
import subprocess
import sys
import textwrap
from datetime import timedelta
from pathlib import Path

import pytest
from django.core.management import CommandError
from django.db import connection
from django.utils import timezone

from alerts.models import Alert, Execution, Trigger
from tests.factories import LEVEL_QUERY, sentinel

pytestmark = pytest.mark.django_db(transaction=True)

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def old(tmp_path, sqlite_db, make_datasource, make_alert, log_channel):
    """A stored alert `level_high` (firing), and the SQL Sentinel file that defines it."""
    url, set_knob = sqlite_db
    set_knob("level", 9)
    make_alert(make_datasource(url), LEVEL_QUERY, name="level_high", channels=[log_channel])
    path = tmp_path / "alerts.yaml"
    path.write_text(textwrap.dedent(f"""
        database:
          url: "{url}"
        alerts:
          - name: level_high
            query: "{LEVEL_QUERY}"
            schedule: "*/5 * * * *"
          - name: other
            query: SELECT 'OK' AS status
            schedule: "@hourly"
        """))
    return str(path)


def refused(*args) -> str:
    with pytest.raises(CommandError) as err:
        sentinel(*args)
    assert err.value.returncode == 2
    return str(err.value)


def test_run_config_dry_run_runs_the_file_as_run_file_dry_run_does(old):
    code, out = sentinel("run", old, "--dry-run")

    assert code == 0, out
    assert "level_high: ALERT" in out and "other: OK" in out and "nothing was stored and nothing sent" in out
    assert not Execution.objects.exists()


def test_run_config_alert_dry_run_runs_that_alert_only(old):
    code, out = sentinel("run", old, "--alert", "level_high", "--dry-run")

    assert code == 0 and "level_high: ALERT" in out and "other" not in out


def test_run_config_says_to_add_record_or_dry_run(old):
    said = refused("run", old)

    assert f"use: sentinel run --file {old} --record" in said
    assert f"sentinel run --file {old} --dry-run" in said
    assert not Execution.objects.exists()


def test_run_config_alert_names_the_recorded_form_with_the_alert(old):
    said = refused("run", old, "--alert", "level_high")

    assert f"use: sentinel run --file {old} --alert level_high --record" in said


def test_state_db_is_answered_with_the_same_command_without_it(old):
    said = refused("run", old, "--dry-run", "--state-db", "sqlite:///sqlsentinel.db")

    assert "--state-db is gone" in said and "DATABASE_URL" in said
    assert f"Use: sentinel run --file {old} --dry-run" in said


def test_a_stored_alert_whose_name_looks_like_a_file_is_still_run_by_name(old, make_alert):
    make_alert(Alert.objects.get(name="level_high").datasource, "SELECT 'OK' AS status", name="nightly.yaml")

    code, out = sentinel("run", "nightly.yaml")

    assert code == 0 and "nightly.yaml: OK" in out
    assert Execution.objects.get().trigger == Trigger.CLI


def test_validate_config_works_as_it_did(old):
    code, out = sentinel("validate", old)

    assert code == 0 and f"{old}: valid" in out


def test_status_config_alert_shows_that_alert(old):
    sentinel("run", "level_high")

    code, out = sentinel("status", old, "--alert", "level_high")

    assert code == 0 and "level_high" in out and "FIRING" in out


def test_history_config_alert_limit_shows_its_runs(old):
    sentinel("run", "level_high")

    code, out = sentinel("history", old, "--alert", "level_high", "--limit", "5")

    assert code == 0 and "level_high" in out and "cli" in out and "ALERT" in out


def test_silence_config_alert_duration_in_whole_hours_silences_for_that_many_hours(old):
    code, out = sentinel("silence", old, "--alert", "level_high", "--duration", "2", "--reason", "deploy")

    assert code == 0, out
    remaining = Alert.objects.get(name="level_high").silenced_until - timezone.now()
    assert timedelta(minutes=119) < remaining <= timedelta(hours=2)


def test_silence_duration_with_a_unit_works_as_for(old):
    code, _ = sentinel("silence", "level_high", "--duration", "90m", "--reason", "deploy")

    remaining = Alert.objects.get(name="level_high").silenced_until - timezone.now()
    assert code == 0 and timedelta(minutes=89) < remaining <= timedelta(minutes=90)


def test_silence_without_a_reason_names_the_command_with_one(old):
    said = refused("silence", old, "--alert", "level_high", "--duration", "2")

    assert "Use: sentinel silence level_high --for 2h --reason WHY" in said
    assert Alert.objects.get(name="level_high").silenced_until is None


def test_silence_without_a_duration_names_sql_sentinels_default_hour(old):
    said = refused("silence", old, "--alert", "level_high")

    assert "Use: sentinel silence level_high --for 1h --reason WHY" in said


def test_unsilence_config_alert_ends_the_silence(old):
    sentinel("silence", "level_high", "--for", "1h", "--reason", "deploy")

    code, out = sentinel("unsilence", old, "--alert", "level_high")

    assert code == 0 and Alert.objects.get(name="level_high").silenced_until is None


def test_healthcheck_config_output_json_prints_the_json_report(old, settings):
    settings.SENTINEL_READY_CHECKS = "database"

    code, out = sentinel("healthcheck", old, "--output", "json")

    assert code == 0 and json.loads(out)["checks"]["database"]["ok"] is True


def test_healthcheck_output_text_names_the_json_command(old):
    said = refused("healthcheck", old, "--output", "text")

    assert said.endswith("Use: sentinel healthcheck")


def test_healthcheck_database_url_points_to_check_queries():
    said = refused("healthcheck", "--database-url", "sqlite:///x.db")

    assert "sentinel validate --check-queries" in said and "Use: sentinel healthcheck" in said


def test_metrics_points_to_the_metrics_url():
    said = refused("metrics")

    assert "http://HOST:PORT/metrics" in said and "SENTINEL_METRICS_TOKEN" in said


def test_daemon_names_the_all_in_one_with_its_file_zone_and_port(old):
    said = refused("daemon", old, "--timezone", "Europe/Berlin", "--port", "9090")

    assert (f"use: SENTINEL_CONFIG_FILES={old} SENTINEL_DEFAULT_TIMEZONE=Europe/Berlin PORT=9090 "
            "sentinel all-in-one") in said
    assert not Alert.objects.filter(name="other").exists()


def test_init_creates_the_tables_as_migrate_does():
    code, out = sentinel("init")

    assert code == 0 and "No migrations to apply" in out


def test_init_state_db_names_init_alone():
    said = refused("init", "--state-db", "sqlite:///sqlsentinel.db")

    assert said.endswith("Use: sentinel init")


def test_the_console_script_answers_an_old_form_on_stderr_with_exit_2(old):
    db = connection.settings_dict
    if not db["ENGINE"].endswith("postgresql"):
        pytest.skip("an in-memory SQLite test database cannot be shared with a subprocess")
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "sentinel_project.settings",
           "DATABASE_URL": f"postgresql://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}",
           "SECRET_KEY": "old-forms-process-test-only-" + "k" * 40}

    done = subprocess.run([str(Path(sys.executable).parent / "sentinel"), "run", old], env=env, cwd=ROOT,
                          capture_output=True, text=True, timeout=60)

    assert done.returncode == 2, done.stderr
    assert f"use: sentinel run --file {old} --record" in done.stderr
    assert "Traceback" not in done.stderr
