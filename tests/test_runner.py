from datetime import datetime, timezone as tz

import pytest
from django.utils import timezone

from alerts import runner
from alerts.models import Execution, ExecutionStatus, Notification, NotificationStatus, State, Trigger
from tests.factories import LEVEL_QUERY

pytestmark = pytest.mark.django_db(transaction=True)

TICK = datetime(2026, 11, 24, 9, 0, tzinfo=tz.utc)


def test_manual_run_records_one_execution_with_value_and_threshold(sqlite_db, make_datasource, make_alert):
    url, set_knob = sqlite_db
    alert = make_alert(make_datasource(url), LEVEL_QUERY)

    execution = runner.run(alert, timezone.now(), Trigger.MANUAL)

    assert execution.status == ExecutionStatus.OK
    assert execution.actual_value == 1
    assert execution.threshold == 5
    assert execution.state_before == State.OK and execution.state_after == State.OK
    assert execution.finished_at is not None and execution.duration_ms >= 0
    assert execution.columns == ["status", "actual_value", "threshold"]
    assert Execution.objects.count() == 1


def test_second_claim_for_the_same_tick_does_nothing(sqlite_db, make_datasource, make_alert):
    url, _ = sqlite_db
    alert = make_alert(make_datasource(url), LEVEL_QUERY)

    first = runner.run(alert, TICK, Trigger.MANUAL)
    second = runner.run(alert, TICK, Trigger.MANUAL)

    assert Execution.objects.filter(alert=alert).count() == 1
    assert second.pk == first.pk


def test_alert_alert_ok_gives_one_firing_and_one_resolved(sqlite_db, make_datasource, make_alert, log_channel,
                                                          django_capture_on_commit_callbacks):
    url, set_knob = sqlite_db
    alert = make_alert(make_datasource(url), LEVEL_QUERY, channels=[log_channel])

    set_knob("level", 9)
    runner.run(alert, TICK, Trigger.MANUAL)
    runner.run(alert, TICK.replace(minute=1), Trigger.MANUAL)
    set_knob("level", 2)
    runner.run(alert, TICK.replace(minute=2), Trigger.MANUAL)

    events = list(Notification.objects.order_by("created_at", "id").values_list("event", "status"))
    assert events == [("firing", NotificationStatus.SENT), ("resolved", NotificationStatus.SENT)]
    alert.refresh_from_db()
    assert alert.state == State.OK
    statuses = list(Execution.objects.order_by("scheduled_for").values_list("status", flat=True))
    assert statuses == [ExecutionStatus.ALERT, ExecutionStatus.ALERT, ExecutionStatus.OK]


def test_dry_run_changes_nothing(sqlite_db, make_datasource, make_alert, log_channel):
    url, set_knob = sqlite_db
    set_knob("level", 9)
    alert = make_alert(make_datasource(url), LEVEL_QUERY, channels=[log_channel])

    dry = runner.run(alert, timezone.now(), Trigger.MANUAL, dry_run=True)

    assert dry.status == ExecutionStatus.ALERT
    assert [n.event for n in dry.transitions[""].notices] == ["firing"]
    assert Execution.objects.count() == 0 and Notification.objects.count() == 0
    alert.refresh_from_db()
    assert alert.state == State.OK and alert.last_run_at is None
