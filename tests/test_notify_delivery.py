"""Delivery bookkeeping: flagged channels, workers that die mid-send, test sends
(the channel admin's tests: tests/test_admin_channels.py)."""

import io
from datetime import timedelta

import pytest
from django.core.management import call_command
from django.utils import timezone

from alerts import delivery
from alerts.models import Alert, AlertState, Channel, DeliveryAttempt, Notification, NotificationStatus
from alerts.notifiers import send_test
from tests.notify_peers import http_receiver, make_notification, smtp_server  # noqa: F401  (fixtures)

pytestmark = pytest.mark.django_db


def test_channel_is_flagged_after_failing_for_good_repeatedly_and_cleared_by_a_success(
        http_receiver, make_notification, settings):
    settings.SENTINEL_CHANNEL_FAILING_AFTER = 2
    http_receiver.answer(410, 410)
    first = make_notification("slack", {"webhook_url": http_receiver.url + "/gone"})
    channel = first.channel
    second = make_notification("slack", {}, alert=first.alert, channel=channel)
    third = make_notification("slack", {}, alert=first.alert, channel=channel)

    delivery.deliver(first.pk)
    channel.refresh_from_db()
    assert channel.failure_streak == 1 and not channel.is_failing
    delivery.deliver(second.pk)
    channel.refresh_from_db()
    assert channel.is_failing and channel.last_failure.startswith("HTTP 410")
    delivery.deliver(third.pk)
    channel.refresh_from_db()
    assert channel.failure_streak == 0 and not channel.is_failing


def test_worker_lost_mid_send_webhook_is_sent_again_with_the_same_key(make_notification, settings):
    notification = make_notification("webhook", {"url": "http://127.0.0.1:9/hook"})
    claimed = timezone.now() - settings.SENTINEL_DELIVERY_STALLED_AFTER - timedelta(seconds=1)
    Notification.objects.filter(pk=notification.pk).update(status=NotificationStatus.SENDING, attempts=1,
                                                           claimed_at=claimed)

    recovery = delivery.recover_stalled()

    assert recovery.resent == [notification.pk] and recovery.abandoned == []
    notification.refresh_from_db()
    assert notification.status == NotificationStatus.PENDING
    [attempt] = DeliveryAttempt.objects.filter(notification=notification)
    assert "outcome unknown" in attempt.error and not attempt.ok


def test_worker_lost_mid_send_email_is_not_sent_again(make_notification, settings):
    notification = make_notification("email", {"recipients": ["oncall@example.com"]})
    claimed = timezone.now() - settings.SENTINEL_DELIVERY_STALLED_AFTER - timedelta(seconds=1)
    Notification.objects.filter(pk=notification.pk).update(status=NotificationStatus.SENDING, claimed_at=claimed)

    recovery = delivery.recover_stalled()

    assert recovery.abandoned == [notification.pk] and recovery.resent == []
    notification.refresh_from_db()
    assert notification.status == NotificationStatus.FAILED
    assert "may or may not have arrived" in notification.last_error
    assert delivery.deliver(notification.pk).status == "skipped"


def test_a_send_in_progress_is_left_alone(make_notification):
    notification = make_notification("email", {"recipients": ["oncall@example.com"]})
    Notification.objects.filter(pk=notification.pk).update(status=NotificationStatus.SENDING,
                                                           claimed_at=timezone.now())
    recovery = delivery.recover_stalled()
    assert recovery.resent == recovery.abandoned == recovery.requeued == []


def test_retry_whose_task_was_lost_is_requeued(make_notification, settings):
    notification = make_notification("webhook", {"url": "http://127.0.0.1:9/hook"})
    Notification.objects.filter(pk=notification.pk).update(
        next_attempt_at=timezone.now() - settings.SENTINEL_DELIVERY_STALLED_AFTER - timedelta(seconds=1))
    assert delivery.recover_stalled().requeued == [notification.pk]


def test_test_channel_command_sends_a_sample_and_touches_no_alert_state(smtp_server, make_notification):
    notification = make_notification("email", {"recipients": ["oncall@example.com"]})
    before = (Notification.objects.count(), AlertState.objects.count(), DeliveryAttempt.objects.count(),
              list(Alert.objects.values_list("state", "silenced_until")))
    out = io.StringIO()

    call_command("sentinel", "test-channel", notification.channel.name, stdout=out)

    assert "Test message sent through email-1 (email): sent to 1 recipient(s)" in out.getvalue()
    [(to, _, message)] = smtp_server.wait_for(1)
    assert to == ["oncall@example.com"]
    assert message["Subject"] == "[FIRING] sentinel_test_message: 8,200 < 10,000"
    after = (Notification.objects.count(), AlertState.objects.count(), DeliveryAttempt.objects.count(),
             list(Alert.objects.values_list("state", "silenced_until")))
    assert after == before


def test_test_channel_command_reports_a_failure_with_exit_code_1(http_receiver, db):
    http_receiver.answer(403)
    Channel.objects.create(name="broken", kind="msteams", config={"webhook_url": http_receiver.url + "/x"})
    out = io.StringIO()
    with pytest.raises(SystemExit) as exit_:
        call_command("sentinel", "test-channel", "broken", stdout=out)
    assert exit_.value.code == 1
    assert "FAILED: HTTP 403" in out.getvalue()


def test_send_test_reports_the_receivers_answer(http_receiver, db):
    channel = Channel.objects.create(name="hook", kind="webhook", config={"url": http_receiver.url + "/t"})
    assert send_test(channel).startswith("Test message sent through hook (webhook): HTTP 200 in ")
    assert http_receiver.wait_for(1)[0].json()["test"] is True


def test_recover_task_resends_a_stalled_webhook_with_the_same_idempotency_key(
        http_receiver, make_notification, settings, django_capture_on_commit_callbacks):
    from alerts.tasks import recover_deliveries

    notification = make_notification("webhook", {"url": http_receiver.url + "/hook"})
    claimed = timezone.now() - settings.SENTINEL_DELIVERY_STALLED_AFTER - timedelta(seconds=1)
    Notification.objects.filter(pk=notification.pk).update(status=NotificationStatus.SENDING, attempts=1,
                                                           claimed_at=claimed)

    with django_capture_on_commit_callbacks(execute=True):
        recover_deliveries()  # eager in tests: the resend runs at the commit

    [request] = http_receiver.wait_for(1)
    assert request.headers["Idempotency-Key"] == delivery.idempotency_key(notification)
    notification.refresh_from_db()
    assert notification.status == NotificationStatus.SENT and notification.attempts == 2
    assert [a.ok for a in DeliveryAttempt.objects.filter(notification=notification)] == [False, True]
