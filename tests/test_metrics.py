"""/metrics reads the database at scrape time: what any process serves is the same picture."""

from datetime import timedelta

import pytest
from django.utils import timezone

from alerts.models import Channel, Execution, ExecutionStatus, Notification, State, Trigger

pytestmark = pytest.mark.django_db


def scrape(client, settings, **headers) -> str:
    settings.CELERY_BROKER_URL = "memory://"  # no Redis: the queue metrics are left out, the rest stays
    response = client.get("/metrics", **headers)
    assert response.status_code == 200, response.content
    assert response["Content-Type"].startswith("text/plain; version=0.0.4")
    return response.content.decode()


def test_without_a_token_configured_metrics_are_open(client, settings):
    settings.SENTINEL_METRICS_TOKEN = ""

    assert "sentinel_alerts{" in scrape(client, settings)


def test_running_abandoned_notifications_and_states_are_counted(client, settings, sqlite_db, make_datasource,
                                                                make_alert):
    settings.SENTINEL_METRICS_TOKEN = "t0ken"
    now = timezone.now()
    datasource = make_datasource(sqlite_db[0])
    firing = make_alert(datasource, "SELECT 1", state=State.FIRING)
    make_alert(datasource, "SELECT 1", state=State.FIRING, silenced_until=now + timedelta(hours=1))
    make_alert(datasource, "SELECT 1", state=State.ERROR, enabled=False)
    Execution.objects.create(alert=firing, scheduled_for=now, trigger=Trigger.SCHEDULE,
                             lease_expires_at=now + timedelta(minutes=1))
    Execution.objects.create(alert=firing, scheduled_for=now - timedelta(minutes=1), trigger=Trigger.SCHEDULE,
                             lease_expires_at=now - timedelta(minutes=1))
    done = Execution.objects.create(alert=firing, scheduled_for=now - timedelta(minutes=2), trigger=Trigger.MANUAL,
                                    status=ExecutionStatus.ALERT, finished_at=now, duration_ms=40)
    slack = Channel.objects.create(name="team", kind="slack", config={"url": "https://hooks.example/x"})
    Notification.objects.create(execution=done, alert=firing, channel=slack, event="firing", status="pending")
    Notification.objects.create(execution=done, alert=firing, channel=slack, event="repeat", status="failed")

    assert client.get("/metrics").status_code == 401
    body = scrape(client, settings, HTTP_AUTHORIZATION="Bearer t0ken")

    for line in [
        "sentinel_running_executions 2.0",
        "sentinel_abandoned_executions 1.0",
        'sentinel_recent_executions{status="ALERT"} 1.0',
        'sentinel_recent_execution_duration_seconds_bucket{le="0.05"} 1.0',
        'sentinel_recent_fire_lag_seconds_bucket{le="+Inf"} 0.0',  # a manual run has no tick lag
        'sentinel_recent_notifications{kind="slack",status="pending"} 1.0',
        'sentinel_recent_notifications{kind="slack",status="failed"} 1.0',
        'sentinel_notifications_undelivered{kind="slack"} 1.0',
        'sentinel_alerts{state="FIRING"} 2.0',
        'sentinel_alerts{state="ERROR"} 0.0',  # disabled alerts are not counted
        "sentinel_alerts_silenced 1.0",
    ]:
        assert line in body, f"{line!r} not in:\n{body}"
    assert "sentinel_queue_depth" not in body
