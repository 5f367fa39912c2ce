"""Slack, Microsoft Teams and PagerDuty against a real local HTTP server playing each endpoint."""

import pytest

from alerts import delivery
from alerts.models import NotificationStatus
from alerts.notifiers import validate_config
from alerts.notifiers.pagerduty import dedup_key
from tests.notify_peers import http_receiver, make_notification  # noqa: F401  (fixtures)

pytestmark = pytest.mark.django_db


def test_slack_gets_block_kit_coloured_by_severity(http_receiver, make_notification):
    notification = make_notification("slack", {"webhook_url": http_receiver.url + "/services/T0/B0/XYZ",
                                               "username": "sentinel", "channel": "#data-alerts"})

    assert delivery.deliver(notification.pk).status == "sent"

    body = http_receiver.wait_for(1)[0].json()
    assert body["text"] == "[FIRING] daily_revenue_check: 8,200 &lt; 10,000"  # mrkdwn, escaped
    assert body["username"] == "sentinel" and body["channel"] == "#data-alerts"
    [attachment] = body["attachments"]
    assert attachment["color"] == "#E01E5A"  # critical
    blocks = attachment["blocks"]
    assert [b["type"] for b in blocks] == ["header", "section", "section", "actions"]
    assert blocks[0]["text"]["text"] == "[FIRING] daily_revenue_check: 8,200 < 10,000"  # plain_text
    section = blocks[1]["text"]["text"]
    assert section.startswith("*daily_revenue_check is FIRING: 8,200 &lt; 10,000*\nRevenue since midnight.")
    assert "```status  actual_value" in section
    assert "*Value*\n8,200" in [f["text"] for f in blocks[2]["fields"]]
    buttons = {e["text"]["text"]: e["url"] for e in blocks[3]["elements"]}
    assert set(buttons) == {"Open alert", "Silence 1 h", "Silence 24 h"}


def test_slack_resolved_is_green(http_receiver, make_notification):
    notification = make_notification("slack", {"webhook_url": http_receiver.url + "/hook"}, event="resolved")
    delivery.deliver(notification.pk)
    body = http_receiver.wait_for(1)[0].json()
    assert body["attachments"][0]["color"] == "#2EB67D"
    assert body["text"].startswith("[RESOLVED] daily_revenue_check")


def test_slack_404_invalid_token_fails_at_once(http_receiver, make_notification):
    http_receiver.answer(404)
    http_receiver.reply_body = b"no_team"
    notification = make_notification("slack", {"webhook_url": http_receiver.url + "/hook"})
    outcome = delivery.deliver(notification.pk)
    assert outcome.status == "failed" and outcome.error == "HTTP 404: no_team"


def test_teams_gets_an_adaptive_card(http_receiver, make_notification):
    notification = make_notification("msteams", {"webhook_url": http_receiver.url + "/workflows/abc"})

    assert delivery.deliver(notification.pk).status == "sent"

    body = http_receiver.wait_for(1)[0].json()
    [attachment] = body["attachments"]
    assert attachment["contentType"] == "application/vnd.microsoft.card.adaptive"
    card = attachment["content"]
    assert card["type"] == "AdaptiveCard"
    assert card["body"][0]["text"] == "[FIRING] daily_revenue_check: 8,200 < 10,000"
    assert card["body"][0]["color"] == "Attention"
    facts = {f["title"]: f["value"] for f in card["body"][1]["facts"]}
    assert facts["Value"] == "8,200" and facts["Threshold"] == "10,000" and facts["region"] == "eu-west"
    assert [a["title"] for a in card["actions"]] == ["Open alert", "Open execution", "Silence 1 h", "Silence 24 h"]


def test_pagerduty_triggers_then_resolves_with_one_dedup_key(http_receiver, make_notification, monkeypatch):
    monkeypatch.setenv("PD_KEY", "R0UTINGKEY0123456789")
    config = {"routing_key": "${PD_KEY}", "url": http_receiver.url + "/v2/enqueue"}
    firing = make_notification("pagerduty", config, key="eu-west")
    resolved = make_notification("pagerduty", config, key="eu-west", event="resolved",
                                 alert=firing.alert, channel=firing.channel)

    assert delivery.deliver(firing.pk).status == "sent"
    assert delivery.deliver(resolved.pk).status == "sent"

    trigger, resolve = [r.json() for r in http_receiver.wait_for(2)]
    assert trigger["event_action"] == "trigger" and resolve["event_action"] == "resolve"
    assert trigger["routing_key"] == resolve["routing_key"] == "R0UTINGKEY0123456789"
    assert trigger["dedup_key"] == resolve["dedup_key"] == f"sentinel/{firing.alert_id}/eu-west"
    assert trigger["payload"]["severity"] == "critical"
    assert trigger["payload"]["source"] == "daily_revenue_check"
    assert trigger["payload"]["summary"] == "[FIRING] daily_revenue_check [eu-west]: 8,200 < 10,000"
    assert trigger["payload"]["component"] == "eu-west"
    assert trigger["payload"]["custom_details"]["value"] == 8200
    assert {link["text"] for link in trigger["links"]} >= {"Alert in Sentinel", "Silence 1 h"}
    assert set(resolve) == {"routing_key", "dedup_key", "event_action"}


def test_pagerduty_dedup_key_differs_per_instance_and_stays_short():
    a = dedup_key({"alert": {"id": 7}, "instance_key": "eu"})
    b = dedup_key({"alert": {"id": 7}, "instance_key": "us"})
    assert a != b and dedup_key({"alert": {"id": 7}, "instance_key": ""}) == "sentinel/7"
    assert len(dedup_key({"alert": {"id": 7}, "instance_key": "k" * 600})) <= 255


def test_pagerduty_bad_routing_key_is_permanent_and_key_is_not_shown(http_receiver, make_notification):
    http_receiver.answer(400)
    http_receiver.reply_body = b'{"status":"invalid event","message":"Event object is invalid","errors":["Invalid routing key R0UTINGKEY-LEAK"]}'
    notification = make_notification("pagerduty", {"routing_key": "R0UTINGKEY-LEAK",
                                                   "url": http_receiver.url + "/v2/enqueue"})
    outcome = delivery.deliver(notification.pk)
    notification.refresh_from_db()
    assert notification.status == NotificationStatus.FAILED
    assert "Invalid routing key ***" in notification.last_error
    assert "R0UTINGKEY-LEAK" not in notification.last_error and "R0UTINGKEY-LEAK" not in outcome.error


def test_chat_channel_validation():
    assert validate_config("slack", {"webhook_url": "${SLACK_HOOK}", "channel": "#x"}) == {}
    assert "webhook_url" in validate_config("slack", {})
    assert "webhook_url" in validate_config("msteams", {"webhook_url": "gopher://x"})
    assert validate_config("pagerduty", {"routing_key": "${PD_KEY}"}) == {}
    assert "url" in validate_config("pagerduty", {"routing_key": "k", "url": "http://169.254.169.254/"})
    assert validate_config("log", {}) == {}
