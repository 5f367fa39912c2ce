"""Every time in the admin's lists and pages carries seconds and its zone:
`2026-12-01 10:05:00 UTC`."""

from datetime import datetime, timezone

import pytest
from django.urls import reverse

from alerts.admin.display import when
from alerts.models import Channel, DeliveryAttempt, Execution, Notification
from tests.factories import LEVEL_QUERY

pytestmark = pytest.mark.django_db

TICK = datetime(2026, 12, 1, 10, 5, tzinfo=timezone.utc)
STARTED = datetime(2026, 12, 1, 10, 5, 1, 250_000, tzinfo=timezone.utc)
FINISHED = datetime(2026, 12, 1, 10, 5, 3, tzinfo=timezone.utc)


@pytest.fixture
def notification(sqlite_db, make_datasource, make_alert):
    url, _ = sqlite_db
    channel = Channel.objects.create(name="ops-log", kind="log")
    alert = make_alert(make_datasource(url), LEVEL_QUERY, name="orders_stuck", channels=[channel])
    execution = Execution.objects.create(alert=alert, scheduled_for=TICK, trigger="schedule", status="ALERT",
                                         started_at=STARTED, finished_at=FINISHED, duration_ms=1750)
    notification = Notification.objects.create(execution=execution, alert=alert, channel=channel, event="firing",
                                               status="sent", attempts=1, created_at=FINISHED, sent_at=FINISHED)
    DeliveryAttempt.objects.create(notification=notification, started_at=FINISHED, duration_ms=3, ok=True)
    return notification


def test_when_writes_seconds_and_the_zone():
    assert when(TICK) == "2026-12-01 10:05:00 UTC"
    assert when(None) == "-"


def test_executions_list_and_page_show_seconds_and_zone(admin_client, notification):
    listing = admin_client.get(reverse("admin:alerts_execution_changelist")).content.decode()
    page = admin_client.get(reverse("admin:alerts_execution_change", args=[notification.execution_id])).content.decode()

    assert "2026-12-01 10:05:00 UTC" in listing
    for shown in ("2026-12-01 10:05:00 UTC", "2026-12-01 10:05:01 UTC", "2026-12-01 10:05:03 UTC"):
        assert shown in page  # tick, started, finished
    assert "a.m." not in page and "p.m." not in page  # Django's own "Dec. 1, 2026, 10:05 a.m."


def test_notifications_list_and_page_show_seconds_and_zone(admin_client, notification):
    listing = admin_client.get(reverse("admin:alerts_notification_changelist")).content.decode()
    page = admin_client.get(reverse("admin:alerts_notification_change", args=[notification.pk])).content.decode()

    assert listing.count("2026-12-01 10:05:03 UTC") >= 2  # created, sent
    assert page.count("2026-12-01 10:05:03 UTC") >= 3  # created, sent, the attempt
    assert "a.m." not in listing + page and "p.m." not in listing + page


def test_alert_page_history_and_channel_deliveries_show_seconds_and_zone(admin_client, notification):
    alert_page = admin_client.get(reverse("admin:alerts_alert_change", args=[notification.alert_id])).content.decode()
    channel_page = admin_client.get(
        reverse("admin:alerts_channel_change", args=[notification.channel_id])).content.decode()

    assert "2026-12-01 10:05:00 UTC" in alert_page  # the latest runs
    assert "2026-12-01 10:05:03 UTC" in channel_page  # recent deliveries
    assert "a.m." not in alert_page + channel_page and "p.m." not in alert_page + channel_page
