"""SQL Sentinel's environment, as its users already set it, gives the settings it meant: the
SMTP names and defaults (port 587, STARTTLS) and the one zone of the daemon (TIMEZONE), with
Django's own TIME_ZONE left at UTC. Settings are read in a fresh process, as at start."""

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
GUIDE = ROOT / "docs" / "migrating-from-sql-sentinel.md"
FIXTURES = ROOT / "tests" / "fixtures" / "sqlsentinel"
PRINT = ("import django, json; django.setup(); from django.conf import settings as s; print(json.dumps({k: "
         "getattr(s, k) for k in ('EMAIL_HOST', 'EMAIL_PORT', 'EMAIL_USE_TLS', 'EMAIL_USE_SSL', 'EMAIL_HOST_USER', "
         "'DEFAULT_FROM_EMAIL', 'SENTINEL_DEFAULT_TIMEZONE', 'TIME_ZONE')}))")


def clean_env(tmp_path, **extra) -> dict:
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("DJANGO_", "CELERY_", "SENTINEL_", "SMTP_", "EMAIL_"))
           and k not in ("DATABASE_URL", "REDIS_URL", "TIMEZONE", "TIME_ZONE", "DEBUG")}
    env.update(DJANGO_SETTINGS_MODULE="sentinel_project.settings", SENTINEL_VAR_DIR=str(tmp_path / "var"),
               SENTINEL_SQLITE_DIRS=str(tmp_path))
    env.update(extra)
    return env


def run(tmp_path, args, **extra) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, *args], cwd=ROOT, env=clean_env(tmp_path, **extra), capture_output=True,
                          text=True, timeout=60)


def settings_for(tmp_path, **extra) -> dict:
    result = run(tmp_path, ["-c", PRINT], **extra)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def guide_gmail_example() -> dict:
    """The KEY=VALUE lines of the guide's Gmail example, as a reader would paste them."""
    blocks = re.findall(r"```sh\n(.*?)```", GUIDE.read_text(), re.S)
    block = next(b for b in blocks if "smtp.gmail.com" in b)
    return dict(line.split("=", 1) for line in block.splitlines() if re.match(r"^[A-Z_]+=", line))


def test_the_guides_gmail_example_gives_port_587_with_starttls(tmp_path):
    example = guide_gmail_example()
    assert example["SMTP_HOST"] == "smtp.gmail.com" and "SMTP_PORT" not in example

    got = settings_for(tmp_path, **example)

    assert (got["EMAIL_HOST"], got["EMAIL_PORT"], got["EMAIL_USE_TLS"], got["EMAIL_USE_SSL"]) == \
        ("smtp.gmail.com", 587, True, False)
    assert got["EMAIL_HOST_USER"] == example["SMTP_USERNAME"]
    assert got["DEFAULT_FROM_EMAIL"] == example["SMTP_FROM_ADDRESS"]


@pytest.mark.parametrize("env, port, tls, ssl", [
    ({}, 25, False, False),
    ({"SMTP_HOST": "mailpit", "SMTP_PORT": "1025", "SMTP_FROM": "sentinel@localhost"}, 1025, False, False),
    ({"SMTP_USER": "me", "SMTP_PORT": "587"}, 587, True, False),
    ({"SMTP_USER": "me", "SMTP_PORT": "465"}, 465, False, True),
    ({"SMTP_USERNAME": "me@example.com"}, 587, True, False),
    ({"SMTP_FROM_ADDRESS": "alerts@example.com", "SMTP_PORT": "25"}, 25, True, False),
    ({"SMTP_USERNAME": "me@example.com", "SMTP_USE_TLS": "false"}, 587, False, False),
    ({"SMTP_USERNAME": "me@example.com", "SMTP_USE_TLS": "TRUE"}, 587, True, False),
    ({"SMTP_USER": "me", "SMTP_USERNAME": "old"}, 25, False, False),
], ids=["nothing set", "compose's mailpit", "own names on 587", "own names on 465", "SQL Sentinel's username",
        "SQL Sentinel's from address on 25", "SQL Sentinel's TLS off", "SQL Sentinel's TRUE",
        "own spelling wins"])
def test_smtp_defaults_follow_the_spelling_and_the_port(tmp_path, env, port, tls, ssl):
    got = settings_for(tmp_path, **env)

    assert (got["EMAIL_PORT"], got["EMAIL_USE_TLS"], got["EMAIL_USE_SSL"]) == (port, tls, ssl)


def test_an_address_shaped_username_is_the_sender_when_none_is_given(tmp_path):
    assert settings_for(tmp_path, SMTP_USERNAME="ops@example.com")["DEFAULT_FROM_EMAIL"] == "ops@example.com"
    assert settings_for(tmp_path, SMTP_USER="ops")["DEFAULT_FROM_EMAIL"] == "sentinel@localhost"


def test_an_smtp_setting_that_is_no_boolean_or_both_tls_kinds_stops_the_start(tmp_path):
    maybe = run(tmp_path, ["-c", PRINT], SMTP_USE_TLS="maybe")
    both = run(tmp_path, ["-c", PRINT], SMTP_USE_TLS="true", SMTP_USE_SSL="true")

    assert maybe.returncode != 0 and "SMTP_USE_TLS='maybe' is not a boolean" in maybe.stderr
    assert both.returncode != 0 and "SMTP_USE_TLS and SMTP_USE_SSL are both true" in both.stderr


def test_sql_sentinels_timezone_sets_the_alerts_default_zone_and_passes_the_checks(tmp_path):
    got = settings_for(tmp_path, TIMEZONE="Europe/Berlin")
    check = run(tmp_path, ["manage.py", "check"], TIMEZONE="Europe/Berlin")

    assert (got["SENTINEL_DEFAULT_TIMEZONE"], got["TIME_ZONE"]) == ("Europe/Berlin", "UTC")
    assert check.returncode == 0, check.stderr
    assert "sentinel.E001" not in check.stdout + check.stderr


def test_the_new_setting_wins_over_sql_sentinels(tmp_path):
    got = settings_for(tmp_path, TIMEZONE="Europe/Berlin", SENTINEL_DEFAULT_TIMEZONE="Asia/Tokyo")

    assert got["SENTINEL_DEFAULT_TIMEZONE"] == "Asia/Tokyo"


def test_an_unknown_default_zone_stops_the_start_naming_it(tmp_path):
    result = run(tmp_path, ["-c", PRINT], TIMEZONE="Mars/Olympus")

    assert result.returncode != 0
    assert "ImproperlyConfigured" in result.stderr and "'Mars/Olympus' is not an IANA time zone" in result.stderr


def test_djangos_time_zone_is_still_refused_and_the_hint_names_the_alerts_setting(tmp_path):
    check = run(tmp_path, ["manage.py", "check"], TIME_ZONE="Europe/Berlin")

    assert check.returncode != 0
    assert "sentinel.E001" in check.stderr and "SENTINEL_DEFAULT_TIMEZONE=Europe/Berlin" in check.stderr


GLOBAL_ZONE_TICKS = (
    "import django, json; django.setup(); from datetime import datetime, timezone; "
    "from alerts.config import load_files; from schedules.cron import cron_ticks; "
    "c = load_files([{path!r}]); assert c.valid, c.errors; "
    "print(json.dumps({{n: [a.schedule[2], [t.isoformat() for t in cron_ticks(a.schedule[0], a.schedule[2], "
    "datetime(2026, 1, 3, tzinfo=timezone.utc), limit=2)]] for n, a in c.alerts.items()}}))"
)


def test_a_daemon_file_relying_on_timezone_runs_at_nine_new_york_time(tmp_path):
    code = GLOBAL_ZONE_TICKS.format(path=str(FIXTURES / "sqlsentinel_global_zone.yaml"))

    result = run(tmp_path, ["-c", code], TIMEZONE="America/New_York", SENTINEL_FIXTURE_DB=str(tmp_path / "f.db"),
                 SENTINEL_ENV_ALLOW="SENTINEL_FIXTURE_DB")

    assert result.returncode == 0, result.stderr
    zone, ticks = json.loads(result.stdout)["global_zone_morning"]
    assert zone == "America/New_York"
    assert ticks == ["2026-01-05T14:00:00+00:00", "2026-01-06T14:00:00+00:00"]  # 09:00 New York, Mon and Tue
