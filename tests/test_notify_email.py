import pytest

from alerts import delivery
from alerts.models import DeliveryAttempt, NotificationStatus
from alerts.notifiers import validate_config
from sentinel_project.email_url import parse_email_url
from tests.notify_peers import make_notification, smtp_server  # noqa: F401  (fixtures)

pytestmark = pytest.mark.django_db

RECIPIENTS = ["oncall@example.com", "finance@example.com"]


def test_firing_email_arrives_multipart_with_the_sql_sentinel_subject(smtp_server, make_notification):
    notification = make_notification("email", {"recipients": RECIPIENTS})

    assert delivery.deliver(notification.pk).status == "sent"

    [(envelope_to, mail_from, message)] = smtp_server.wait_for(1)
    assert sorted(envelope_to) == sorted(RECIPIENTS)
    assert mail_from == "sentinel@example.com"
    assert message["Subject"] == "[FIRING] daily_revenue_check: 8,200 < 10,000"
    assert message["To"] == "oncall@example.com, finance@example.com"
    assert message["X-Sentinel-Event"] == "firing"
    assert message["Message-ID"] == f"<{delivery.idempotency_key(notification)}@sentinel>"
    assert message.get_content_type() == "multipart/alternative"
    text = message.get_body(("plain",)).get_content()
    html = message.get_body(("html",)).get_content()
    assert "daily_revenue_check is FIRING: 8,200 < 10,000." in text
    assert "Threshold: 10,000" in text and "region: eu-west" in text
    assert f"/admin/alerts/alert/{notification.alert_id}/change/" in text
    assert "Silence 1 h:    http" in text and "/silence/" in text
    assert "<h2" in html and "daily_revenue_check" in html and "Silence 24 h</a>" in html
    assert "8,200 &lt; 10,000" in html  # escaped in HTML, plain in the text part
    assert [a.status_code for a in DeliveryAttempt.objects.filter(notification=notification)] == [None]


def test_resolved_email_has_no_silence_links(smtp_server, make_notification):
    notification = make_notification("email", {"recipients": RECIPIENTS}, event="resolved", value=12000)
    delivery.deliver(notification.pk)
    [(_, _, message)] = smtp_server.wait_for(1)
    assert message["Subject"] == "[RESOLVED] daily_revenue_check: back to normal (12,000 > 10,000)"
    assert "/silence/" not in message.get_body(("plain",)).get_content()


def test_custom_subject_takes_sql_sentinel_placeholders(smtp_server, make_notification):
    notification = make_notification(
        "email", {"recipients": RECIPIENTS},
        subject_template="{status}: {alert_name} at {actual_value} (min {threshold}) {{ severity|upper }}",
        body_template="Revenue is {actual_value}. Look at {{ links.execution }}",
    )
    delivery.deliver(notification.pk)
    [(_, _, message)] = smtp_server.wait_for(1)
    assert message["Subject"] == "FIRING: daily_revenue_check at 8,200 (min 10,000) CRITICAL"
    text = message.get_body(("plain",)).get_content()
    assert text.startswith("Revenue is 8,200. Look at http")
    assert "Revenue is 8,200." in message.get_body(("html",)).get_content()


def test_channel_subject_setting_is_used_when_the_alert_has_none(smtp_server, make_notification):
    notification = make_notification("email", {"recipients": RECIPIENTS, "subject": "Sentinel: {alert_name} {status}"})
    delivery.deliver(notification.pk)
    [(_, _, message)] = smtp_server.wait_for(1)
    assert message["Subject"] == "Sentinel: daily_revenue_check FIRING"


def test_recipients_from_a_variable(smtp_server, make_notification, monkeypatch):
    monkeypatch.setenv("ONCALL_EMAILS", "a@example.com, b@example.com")
    notification = make_notification("email", {"recipients": ["${ONCALL_EMAILS}"]})
    delivery.deliver(notification.pk)
    [(envelope_to, _, _)] = smtp_server.wait_for(1)
    assert sorted(envelope_to) == ["a@example.com", "b@example.com"]


def test_smtp_550_for_every_recipient_fails_without_retry(smtp_server, make_notification):
    smtp_server.reject_with = "550 5.1.1 No such user"
    notification = make_notification("email", {"recipients": RECIPIENTS})

    outcome = delivery.deliver(notification.pk)

    assert outcome.status == "failed" and "refused every recipient" in outcome.error
    notification.refresh_from_db()
    assert notification.status == NotificationStatus.FAILED and smtp_server.messages == []


def test_smtp_server_down_is_retried(make_notification, settings):
    from tests.notify_peers import free_port

    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", free_port()
    settings.EMAIL_HOST_PASSWORD = "smtp-pass-never-shown"
    notification = make_notification("email", {"recipients": RECIPIENTS})

    outcome = delivery.deliver(notification.pk)

    assert outcome.status == "retry" and "Could not send through 127.0.0.1" in outcome.error
    assert "smtp-pass-never-shown" not in outcome.error


def test_email_config_validation():
    assert validate_config("email", {"recipients": ["ops@example.com", "${MORE}"]}) == {}
    assert "not-an-address" in validate_config("email", {"recipients": ["not-an-address"]})["recipients"]
    assert validate_config("email", {"recipients": []}) == {"recipients": "Required for a email channel."}


def test_email_url_sets_django_email_settings():
    assert parse_email_url("smtp+tls://user%40corp:p%3Ass@mail.corp:2587?from=alerts@corp.example") == {
        "EMAIL_BACKEND": "django.core.mail.backends.smtp.EmailBackend",
        "EMAIL_HOST": "mail.corp", "EMAIL_PORT": 2587, "EMAIL_HOST_USER": "user@corp",
        "EMAIL_HOST_PASSWORD": "p:ss", "EMAIL_USE_TLS": True, "EMAIL_USE_SSL": False,
        "DEFAULT_FROM_EMAIL": "alerts@corp.example",
    }
    assert parse_email_url("smtps://mail.corp")["EMAIL_PORT"] == 465
    assert parse_email_url("smtps://mail.corp")["EMAIL_USE_SSL"] is True
    assert parse_email_url("console://")["EMAIL_BACKEND"].endswith("console.EmailBackend")
    with pytest.raises(Exception, match="scheme 'ftp'"):
        parse_email_url("ftp://mail.corp")
