"""ALERT, ALERT, OK through the real runner: each channel hears one firing and one resolved."""

from datetime import datetime, timezone as tz

import pytest

from alerts import runner
from alerts.models import Channel, DeliveryAttempt, Notification, NotificationStatus, Trigger
from tests.factories import LEVEL_QUERY
from tests.notify_peers import http_receiver, smtp_server  # noqa: F401  (fixtures)

pytestmark = pytest.mark.django_db(transaction=True)

TICK = datetime(2026, 11, 24, 9, 0, tzinfo=tz.utc)


@pytest.fixture
def every_channel(http_receiver, smtp_server, monkeypatch):
    monkeypatch.setenv("FULL_PATH_SECRET", "whsec-full-path")
    base = http_receiver.url
    return [
        Channel.objects.create(name="mail", kind="email", config={"recipients": ["oncall@example.com"]}),
        Channel.objects.create(name="chat", kind="slack", config={"webhook_url": base + "/slack"}),
        Channel.objects.create(name="hook", kind="webhook",
                               config={"url": base + "/webhook", "secret": "${FULL_PATH_SECRET}"}),
        Channel.objects.create(name="pager", kind="pagerduty",
                               config={"routing_key": "rk-full-path", "url": base + "/pagerduty"}),
        Channel.objects.create(name="teams", kind="msteams", config={"webhook_url": base + "/teams"}),
    ]


def test_alert_alert_ok_sends_one_firing_and_one_resolved_on_every_channel(
        sqlite_db, make_datasource, make_alert, every_channel, http_receiver, smtp_server):
    url, set_knob = sqlite_db
    alert = make_alert(make_datasource(url), LEVEL_QUERY, name="level_high", channels=every_channel)

    set_knob("level", 9)
    runner.run(alert, TICK, Trigger.MANUAL)
    runner.run(alert, TICK.replace(minute=1), Trigger.MANUAL)
    set_knob("level", 2)
    runner.run(alert, TICK.replace(minute=2), Trigger.MANUAL)

    mails = smtp_server.wait_for(2)
    assert [m["Subject"] for _, _, m in mails] == [
        "[FIRING] level_high: 9 > 5", "[RESOLVED] level_high: back to normal (2 < 5)"]
    requests = http_receiver.wait_for(8)
    by_path = {}
    for r in requests:
        by_path.setdefault(r.path, []).append(r.json())
    assert sorted(by_path) == ["/pagerduty", "/slack", "/teams", "/webhook"]
    assert [b["event"] for b in by_path["/webhook"]] == ["firing", "resolved"]
    assert [b["event_action"] for b in by_path["/pagerduty"]] == ["trigger", "resolve"]
    assert [b["text"][:10] for b in by_path["/slack"]] == ["[FIRING] l", "[RESOLVED]"]
    assert [b["summary"][:10] for b in by_path["/teams"]] == ["[FIRING] l", "[RESOLVED]"]
    assert len(requests) == 8 and len(mails) == 2
    statuses = Notification.objects.values_list("status", flat=True)
    assert list(statuses) == [NotificationStatus.SENT] * 10
    assert DeliveryAttempt.objects.count() == 10


def test_silenced_alert_records_suppressed_and_sends_nothing(
        sqlite_db, make_datasource, make_alert, every_channel, http_receiver, smtp_server):
    from datetime import timedelta

    from django.utils import timezone

    url, set_knob = sqlite_db
    alert = make_alert(make_datasource(url), LEVEL_QUERY, name="level_high", channels=every_channel,
                       silenced_until=timezone.now() + timedelta(hours=1))
    set_knob("level", 9)

    runner.run(alert, TICK, Trigger.MANUAL)

    assert set(Notification.objects.values_list("status", flat=True)) == {NotificationStatus.SUPPRESSED}
    assert Notification.objects.count() == 5
    assert DeliveryAttempt.objects.count() == 0
    assert http_receiver.requests == [] and smtp_server.messages == []
