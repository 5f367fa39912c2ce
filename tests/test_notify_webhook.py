import hashlib
import hmac
import json

import pytest

from alerts import delivery
from alerts.models import DeliveryAttempt, NotificationStatus
from alerts.notifiers import validate_config
from tests.notify_peers import HANG, http_receiver, make_notification  # noqa: F401  (fixtures)

pytestmark = pytest.mark.django_db


@pytest.fixture
def webhook(http_receiver, make_notification, monkeypatch):
    monkeypatch.setenv("HOOK_SECRET", "s3cret-signing-key")
    monkeypatch.setenv("HOOK_TOKEN", "tok-abcdef123456")

    def make(**kwargs):
        config = {"url": http_receiver.url + "/hook", "secret": "${HOOK_SECRET}",
                  "headers": {"Authorization": "Bearer ${HOOK_TOKEN}", "X-Team": "data"}}
        config.update(kwargs.pop("config", {}))
        return make_notification("webhook", config, **kwargs)

    return make


def attempts(notification):
    return list(DeliveryAttempt.objects.filter(notification=notification).values_list("ok", "status_code"))


def test_webhook_posts_a_signed_versioned_payload(webhook, http_receiver):
    notification = webhook()

    assert delivery.deliver(notification.pk).status == "sent"

    [request] = http_receiver.wait_for(1)
    assert request.method == "POST" and request.path == "/hook"
    expected = "sha256=" + hmac.new(b"s3cret-signing-key", request.body, hashlib.sha256).hexdigest()
    assert request.headers["X-Sentinel-Signature"] == expected
    assert request.headers["Authorization"] == "Bearer tok-abcdef123456"
    assert request.headers["X-Team"] == "data"
    assert request.headers["Idempotency-Key"] == delivery.idempotency_key(notification)
    assert request.headers["X-Sentinel-Event"] == "firing"
    body = request.json()
    assert body["version"] == 1 and body["event"] == "firing"
    assert body["alert"]["name"] == "daily_revenue_check" and body["alert"]["severity"] == "critical"
    assert body["value"] == 8200 and body["threshold"] == 10000 and body["context"] == {"region": "eu-west"}
    assert body["execution"]["id"] == notification.execution_id
    assert body["execution"]["rows"] == [["ALERT", 8200, 10000, "eu-west"]]
    assert body["times"]["event_at"]
    assert body["links"]["alert"].endswith(f"/admin/alerts/alert/{notification.alert_id}/change/")
    assert "/silence/" in body["links"]["silence_1h"] and "/silence/" in body["links"]["silence_24h"]
    assert body["notification"] == {"id": notification.pk, "idempotency_key": request.headers["Idempotency-Key"]}
    notification.refresh_from_db()
    assert notification.status == NotificationStatus.SENT and notification.sent_at is not None
    assert attempts(notification) == [(True, 200)]


def test_webhook_500_twice_then_200_is_delivered_once_after_three_attempts(webhook, http_receiver):
    http_receiver.answer(500, 500, 200)
    notification = webhook()

    outcomes = [delivery.deliver(notification.pk) for _ in range(3)]
    again = delivery.deliver(notification.pk)

    assert [o.status for o in outcomes] == ["retry", "retry", "sent"]
    assert outcomes[0].retry_in > 0 and again.status == "skipped"
    requests = http_receiver.wait_for(3)
    assert len(requests) == 3
    # Every retry is the same message: same body, same signature, same idempotency key.
    assert len({r.body for r in requests}) == 1
    assert len({r.headers["X-Sentinel-Signature"] for r in requests}) == 1
    assert len({r.headers["Idempotency-Key"] for r in requests}) == 1
    assert attempts(notification) == [(False, 500), (False, 500), (True, 200)]
    notification.refresh_from_db()
    assert notification.status == NotificationStatus.SENT and notification.attempts == 3


def test_webhook_400_fails_at_once_without_retry_and_keeps_only_an_excerpt(webhook, http_receiver):
    http_receiver.answer(400)
    http_receiver.reply_body = b'{"error": "bad field"} ' + b"x" * 10_000
    notification = webhook()

    outcome = delivery.deliver(notification.pk)

    assert outcome.status == "failed" and outcome.retry_in is None
    assert len(http_receiver.requests) == 1
    notification.refresh_from_db()
    assert notification.status == NotificationStatus.FAILED
    assert notification.last_error.startswith('HTTP 400: {"error": "bad field"}')
    assert len(notification.last_error) < 300
    assert attempts(notification) == [(False, 400)]
    assert delivery.deliver(notification.pk).status == "skipped"


def test_webhook_429_is_retried(webhook, http_receiver):
    http_receiver.answer(429)
    notification = webhook()
    assert delivery.deliver(notification.pk).status == "retry"
    assert delivery.deliver(notification.pk).status == "sent"
    assert attempts(notification) == [(False, 429), (True, 200)]


def test_webhook_that_never_answers_times_out_and_is_retried(webhook, http_receiver, settings):
    settings.SENTINEL_DELIVERY_TIMEOUT = 1
    http_receiver.answer(HANG)
    notification = webhook()

    first = delivery.deliver(notification.pk)
    second = delivery.deliver(notification.pk)

    assert first.status == "retry" and "Timed out after 1 s" in first.error
    assert second.status == "sent"
    [timed_out, ok] = DeliveryAttempt.objects.filter(notification=notification)
    assert not timed_out.ok and timed_out.status_code is None and 900 <= timed_out.duration_ms < 5000
    assert ok.ok


def test_webhook_gives_up_after_the_configured_attempts(webhook, http_receiver, settings):
    settings.SENTINEL_DELIVERY_MAX_ATTEMPTS = 3
    http_receiver.answer(503, 503, 503, 503)
    notification = webhook()

    statuses = [delivery.deliver(notification.pk).status for _ in range(4)]

    assert statuses == ["retry", "retry", "failed", "skipped"]
    assert len(http_receiver.requests) == 3


def test_webhook_put_method(webhook, http_receiver):
    notification = webhook(config={"method": "PUT"})
    assert delivery.deliver(notification.pk).status == "sent"
    assert http_receiver.wait_for(1)[0].method == "PUT"


def test_webhook_redirect_is_not_followed(webhook, http_receiver):
    http_receiver.answer(302)
    http_receiver.location = "http://169.254.169.254/latest/meta-data/"
    notification = webhook()

    outcome = delivery.deliver(notification.pk)

    assert outcome.status == "failed" and "redirect not followed" in outcome.error
    assert len(http_receiver.requests) == 1


def test_unreachable_webhook_error_keeps_the_url_token_secret(make_notification, monkeypatch):
    from tests.notify_peers import free_port

    monkeypatch.setenv("HOOK_URL", f"http://127.0.0.1:{free_port()}/hooks/T0KEN-very-secret-path")
    notification = make_notification("webhook", {"url": "${HOOK_URL}"})

    outcome = delivery.deliver(notification.pk)

    assert outcome.status == "retry"
    notification.refresh_from_db()
    stored = notification.last_error + "".join(DeliveryAttempt.objects.values_list("error", flat=True))
    assert "Could not reach the endpoint" in notification.last_error
    assert "T0KEN-very-secret-path" not in stored


def test_missing_variable_is_a_permanent_error_naming_the_variable(make_notification):
    notification = make_notification("webhook", {"url": "${NO_SUCH_HOOK_VARIABLE}"})
    outcome = delivery.deliver(notification.pk)
    assert outcome.status == "failed"
    assert "NO_SUCH_HOOK_VARIABLE" in outcome.error


def test_metadata_address_is_always_refused(make_notification):
    notification = make_notification("webhook", {"url": "http://169.254.169.254/latest/meta-data/"})
    outcome = delivery.deliver(notification.pk)
    assert outcome.status == "failed" and "metadata" in outcome.error


def test_ipv4_mapped_metadata_address_is_refused(settings):
    from alerts.notifiers.http import refusal

    settings.SENTINEL_OUTBOUND_ALLOW = ["0.0.0.0/0", "::/0"]
    assert refusal("::ffff:169.254.169.254", "::ffff:169.254.169.254")
    assert refusal("fd00:ec2::254", "fd00:ec2::254")
    assert refusal("10.0.0.5", "10.0.0.5") == ""
    settings.SENTINEL_OUTBOUND_ALLOW = []
    assert refusal("10.0.0.5", "10.0.0.5")


def test_private_addresses_are_refused_on_the_resolved_address_when_not_allowed(
        webhook, http_receiver, settings):
    settings.SENTINEL_OUTBOUND_ALLOW = []
    # A name, not a literal: only the address it resolves to tells it is loopback.
    notification = webhook(config={"url": http_receiver.url.replace("127.0.0.1", "localhost") + "/hook"})

    outcome = delivery.deliver(notification.pk)

    assert outcome.status == "failed" and "localhost resolves to 127.0.0.1, a loopback address" in outcome.error
    assert http_receiver.requests == []


def test_private_addresses_are_reached_when_the_operator_allows_them(webhook, http_receiver, settings):
    settings.SENTINEL_OUTBOUND_ALLOW = ["localhost"]
    notification = webhook(config={"url": http_receiver.url.replace("127.0.0.1", "localhost") + "/hook"})
    assert delivery.deliver(notification.pk).status == "sent"


def test_validate_config_names_each_bad_field():
    errors = validate_config("webhook", {"url": "file:///etc/passwd", "method": "GET",
                                         "headers": {"X-Sentinel-Signature": "forged"}, "retries": 3})
    assert set(errors) == {"url", "method", "headers", "retries"}
    assert "http and https" in errors["url"]
    assert validate_config("webhook", {"url": "${HOOK_URL}", "secret": "${S}", "method": "put"}) == {}
    assert validate_config("webhook", {}) == {"url": "Required for a webhook channel."}
    assert "kind" in validate_config("carrier-pigeon", {})


def test_signature_can_be_verified_as_the_docs_show(webhook, http_receiver):
    """The snippet in docs/notifications.md, run against what arrived."""
    delivery.deliver(webhook().pk)
    [request] = http_receiver.wait_for(1)

    def verify(secret: str, body: bytes, header: str) -> bool:
        expected = "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
        return hmac.compare_digest(expected, header)

    assert verify("s3cret-signing-key", request.body, request.headers["X-Sentinel-Signature"])
    assert not verify("s3cret-signing-key", request.body + b" ", request.headers["X-Sentinel-Signature"])
    assert json.loads(request.body)["version"] == 1


def test_https_targets_are_checked_before_the_tls_handshake(webhook, http_receiver, settings):
    settings.SENTINEL_OUTBOUND_ALLOW = []
    url = http_receiver.url.replace("http://127.0.0.1", "https://localhost") + "/hook"

    outcome = delivery.deliver(webhook(config={"url": url}).pk)

    assert outcome.status == "failed" and "Refused: localhost resolves to 127.0.0.1" in outcome.error
    assert http_receiver.requests == []
