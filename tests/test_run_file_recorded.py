"""`sentinel run --file FILE --record`: SQL Sentinel's `run CONFIG`. The file's definitions are stored
(as `apply` does, without pruning), every enabled alert of it runs once now, and each run is recorded
and notifies as a CLI run does."""

import textwrap

import pytest
from django.core.management import CommandError

from alerts.models import Alert, AlertState, Execution, ExecutionStatus, Notification, Trigger
from tests.factories import LEVEL_QUERY, sentinel
from tests.notify_peers import http_receiver  # noqa: F401 (fixture)

pytestmark = pytest.mark.django_db(transaction=True)  # notifications go out after commit


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
          - name: switched_off
            enabled: false
            query: SELECT 'ALERT' AS status
            schedule: "@hourly"
        """))
    return str(path), set_knob, http_receiver


def test_record_stores_the_file_runs_each_enabled_alert_and_notifies_once(alerts_file):
    path, set_knob, receiver = alerts_file
    set_knob("level", 9)

    code, out = sentinel("run", "--file", path, "--record")

    assert code == 0, out  # a firing alert is not a failure
    assert "level_high: ALERT" in out and "each run was recorded" in out and "switched_off:" not in out
    assert set(Alert.objects.values_list("name", flat=True)) == {"level_high", "switched_off"}
    execution = Execution.objects.get()
    assert execution.alert.name == "level_high" and execution.trigger == Trigger.CLI
    assert execution.status == ExecutionStatus.ALERT
    assert AlertState.objects.get(alert__name="level_high").state == "FIRING"
    assert len(receiver.requests) == 1 and receiver.requests[0].json()["alert"]["name"] == "level_high"


def test_a_second_recorded_run_remembers_the_state_and_does_not_notify_again(alerts_file):
    path, set_knob, receiver = alerts_file
    set_knob("level", 9)
    sentinel("run", "--file", path, "--record")

    code, out = sentinel("run", "--file", path, "--record")

    assert code == 0 and "Nothing to do" not in out  # the plan says unchanged; the alerts run anyway
    assert Execution.objects.filter(alert__name="level_high").count() == 2
    assert Notification.objects.count() == 1 and len(receiver.requests) == 1


def test_record_of_one_alert_runs_it_even_when_disabled(alerts_file):
    path, _, receiver = alerts_file

    code, out = sentinel("run", "--file", path, "--alert", "switched_off", "--record")

    assert code == 0 and "switched_off: ALERT" in out
    assert list(Execution.objects.values_list("alert__name", flat=True)) == ["switched_off"]


def test_a_failing_alert_exits_1_and_is_recorded(alerts_file, tmp_path):
    path, _, _ = alerts_file
    broken = tmp_path / "broken.yaml"
    broken.write_text(open(path).read().replace("FROM knobs", "FROM no_such_table"))

    code, out = sentinel("run", "--file", str(broken), "--record")

    assert code == 1 and "level_high: ERROR" in out and "no such table" in out
    assert Execution.objects.get().status == ExecutionStatus.ERROR


def test_an_invalid_file_stores_and_runs_nothing(tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text("alerts:\n  - name: x\n    query: SELECT 1\n    schedule: nope\n")

    code, out = sentinel("run", "--file", str(path), "--record")

    assert code == 1 and f"{path}:4: alerts[0] (x).schedule:" in out
    assert not Alert.objects.exists() and not Execution.objects.exists()


def test_record_with_dry_run_or_without_a_file_is_bad_usage(alerts_file):
    path, _, _ = alerts_file
    with pytest.raises(CommandError) as err:
        sentinel("run", "--file", path, "--record", "--dry-run")
    assert err.value.returncode == 2 and "give one of them" in str(err.value)
    with pytest.raises(CommandError) as err:
        sentinel("run", "--record")
    assert err.value.returncode == 2 and "sentinel run --file FILE --record" in str(err.value)
    assert not Alert.objects.exists()
