"""`sentinel run --file`: alerts run straight from a file; nothing is stored, whatever happens."""

import textwrap

import pytest
from django.core.management import CommandError

from alerts.models import Alert, AlertState, Channel, Datasource, DeliveryAttempt, Execution, Notification
from tests.factories import LEVEL_QUERY
from tests.notify_peers import http_receiver  # noqa: F401 (fixture)
from tests.factories import sentinel

pytestmark = pytest.mark.django_db


def nothing_stored():
    return not any(m.objects.exists() for m in (Alert, Datasource, Channel, Execution, Notification, AlertState,
                                                 DeliveryAttempt))


@pytest.fixture
def alerts_file(tmp_path, sqlite_db, http_receiver):
    url, set_knob = sqlite_db
    path = tmp_path / "alerts.yaml"
    path.write_text(textwrap.dedent(f"""
        database:
          url: "{url}"
        alerts:
          - name: level_high
            query: "{LEVEL_QUERY}"
            schedule: "*/5 * * * *"
            notify:
              - channel: webhook
                url: "{http_receiver.url}/hook"
          - name: broken
            query: SELECT nope FROM nowhere
            schedule: "@hourly"
          - name: switched_off
            enabled: false
            query: SELECT 'ALERT' AS status
            schedule: "@hourly"
        """))
    return str(path), set_knob, http_receiver


def test_dry_run_of_a_file_prints_each_outcome_and_stores_and_sends_nothing(alerts_file):
    path, set_knob, receiver = alerts_file
    set_knob("level", 9)

    code, out = sentinel("run", "--file", path, "--dry-run")

    assert code == 1  # `broken` ends in ERROR
    assert "level_high: ALERT" in out and "would become FIRING; firing" in out
    assert "broken: ERROR" in out and "no such table: nowhere" in out
    assert "switched_off" not in out  # like SQL Sentinel: all enabled alerts
    assert "nothing was stored and nothing sent" in out
    assert nothing_stored() and receiver.requests == []


def test_a_real_run_from_a_file_sends_once_and_stores_nothing(alerts_file):
    path, set_knob, receiver = alerts_file
    set_knob("level", 9)

    code, out = sentinel("run", "--file", path, "--alert", "level_high")

    assert code == 0, out
    assert "level_high: ALERT" in out and "firing -> level_high-webhook-1: sent" in out
    assert len(receiver.requests) == 1 and receiver.requests[0].json()["alert"]["name"] == "level_high"
    assert nothing_stored()


def test_a_disabled_alert_runs_when_named(alerts_file):
    path, _, _ = alerts_file
    code, out = sentinel("run", "--file", path, "--alert", "switched_off", "--dry-run")
    assert code == 0 and "switched_off: ALERT" in out and nothing_stored()


def test_a_stored_alert_of_the_same_name_is_left_as_it_was(alerts_file, make_datasource, make_alert):
    path, set_knob, _ = alerts_file
    stored = make_alert(make_datasource("sqlite://", name="elsewhere"), "SELECT 'OK' AS status", name="level_high")
    set_knob("level", 9)

    code, out = sentinel("run", "--file", path, "--alert", "level_high", "--dry-run")

    assert "level_high: ALERT" in out  # the file's query ran, not the stored one
    stored.refresh_from_db()
    assert stored.query == "SELECT 'OK' AS status" and stored.datasource.name == "elsewhere"
    assert not Execution.objects.exists() and Alert.objects.count() == 1


def test_an_invalid_file_runs_nothing(tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text("alerts:\n  - name: x\n    query: SELECT 1\n    schedule: nope\n")
    code, out = sentinel("run", "--file", str(path))
    assert code == 1 and f"{path}:4: alerts[0] (x).schedule:" in out


def test_usage_errors(alerts_file):
    path, _, _ = alerts_file
    with pytest.raises(CommandError) as err:
        sentinel("run", "--file", path, "--alert", "level_hgh")
    assert err.value.returncode == 2 and "Did you mean: level_high?" in str(err.value)
    with pytest.raises(CommandError) as err:
        sentinel("run")
    assert err.value.returncode == 2
    with pytest.raises(CommandError) as err:
        sentinel("run", "--alert", "level_high")
    assert "--alert NAME goes with --file FILE" in str(err.value)
