"""Human labels: rows name their alert and channel (never an id or "object (11)"),
and durations are rounded, in the admin's lists, pages and inlines."""

import re
from datetime import datetime, timezone

import pytest
from django.urls import reverse

from alerts.models import AlertState, Channel, DeliveryAttempt, Execution, Notification, State
from tests.factories import LEVEL_QUERY

pytestmark = pytest.mark.django_db

TICK = datetime(2026, 12, 1, 10, 5, tzinfo=timezone.utc)


@pytest.fixture
def delivered(sqlite_db, make_datasource, make_alert):
    """orders_stuck resolved, told to ops-webhook, delivered on the second attempt."""
    url, _ = sqlite_db
    channel = Channel.objects.create(name="ops-webhook", kind="webhook", config={"url": "https://hooks.example.com/x"})
    alert = make_alert(make_datasource(url), LEVEL_QUERY, name="orders_stuck", channels=[channel])
    execution = Execution.objects.create(alert=alert, scheduled_for=TICK, trigger="schedule", status="OK",
                                         started_at=TICK, finished_at=TICK, duration_ms=12.345678)
    notification = Notification.objects.create(execution=execution, alert=alert, channel=channel, event="resolved",
                                               status="sent", attempts=2, sent_at=TICK)
    DeliveryAttempt.objects.create(notification=notification, started_at=TICK, duration_ms=812.345678,
                                   ok=False, status_code=503, error="HTTP 503")
    DeliveryAttempt.objects.create(notification=notification, started_at=TICK.replace(second=7),
                                   duration_ms=12.345678, ok=True, status_code=200)
    AlertState.objects.create(alert=alert, key="eu-west", state=State.OK, since=TICK)
    return notification


def test_each_row_is_named_after_its_alert_and_channel(delivered):
    notification = delivered
    first, second = notification.delivery_attempts.all()

    assert str(notification) == "resolved: orders_stuck → ops-webhook (sent)"
    assert str(notification.execution) == "orders_stuck at 2026-12-01 10:05:00 UTC: OK"
    assert str(AlertState.objects.get(key="eu-west")) == "orders_stuck [eu-west]: OK"
    assert str(first) == "2026-12-01 10:05:00 UTC: failed, HTTP 503, 812 ms"
    assert str(second) == "2026-12-01 10:05:07 UTC: ok, HTTP 200, 12 ms"


def test_notification_page_lists_attempts_by_what_happened_with_rounded_durations(admin_client, delivered):
    page = admin_client.get(reverse("admin:alerts_notification_change", args=[delivered.pk])).content.decode()

    assert "object (" not in page
    assert "resolved: orders_stuck → ops-webhook (sent)" in page  # the page's title
    assert "2026-12-01 10:05:07 UTC: ok, HTTP 200, 12 ms" in page
    assert ">12 ms<" in page and ">812 ms<" in page
    assert "12.345678" not in page and "812.345678" not in page


def test_execution_and_alert_pages_name_their_rows(admin_client, delivered):
    execution_page = admin_client.get(
        reverse("admin:alerts_execution_change", args=[delivered.execution_id])).content.decode()
    alert_page = admin_client.get(reverse("admin:alerts_alert_change", args=[delivered.alert_id])).content.decode()
    channel_page = admin_client.get(
        reverse("admin:alerts_channel_change", args=[delivered.channel_id])).content.decode()

    for page in (execution_page, alert_page, channel_page):
        assert "object (" not in page
        assert not re.search(r"\b\d+\[[^\]]*\] ->", page)  # the old 'resolved 4[] -> 2: sent'
    assert "orders_stuck at 2026-12-01 10:05:00 UTC: OK" in execution_page
    assert "resolved: orders_stuck → ops-webhook (sent)" in execution_page and "12 ms" in execution_page
    assert "orders_stuck [eu-west]: OK" in alert_page
    assert "resolved: orders_stuck → ops-webhook (sent)" in channel_page
