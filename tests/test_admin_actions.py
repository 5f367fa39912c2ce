"""The admin's buttons: each acts, says what it did, and lands in the admin log."""

from datetime import timedelta

import pytest
from django.contrib.admin.models import LogEntry
from django.urls import reverse
from django.utils import timezone

from alerts.models import Alert, Channel, Execution, ExecutionStatus, Notification, State
from tests.admin_helpers import level_alert, said  # noqa: F401  (fixture)
from tests.notify_peers import http_receiver  # noqa: F401  (fixture)

pytestmark = pytest.mark.django_db


def act(client, alert, action, **data):
    return client.post(reverse(f"admin:alerts_alert_{action}", args=[alert.pk]), data)


def logged(obj) -> list[str]:
    return list(LogEntry.objects.filter(object_id=str(obj.pk)).values_list("change_message", flat=True))


def test_run_now_records_an_execution_and_says_what_happened(admin_client, level_alert,
                                                             django_capture_on_commit_callbacks):
    level_alert.set_knob("level", 9)

    with django_capture_on_commit_callbacks(execute=True):
        response = act(admin_client, level_alert, "run")

    execution = Execution.objects.get(alert=level_alert)
    assert response.status_code == 302
    assert execution.status == ExecutionStatus.ALERT and execution.trigger == "manual"
    [message] = said(response)
    assert message.startswith("Ran disk-full: ALERT, value 9 (threshold 5), state OK → FIRING, 1 notification")
    assert f"execution {execution.pk}" in message
    assert Notification.objects.get(execution=execution).status == "sent"
    assert logged(level_alert) == [message]


def test_run_now_of_a_failing_query_is_reported_as_an_error(admin_client, level_alert):
    Alert.objects.filter(pk=level_alert.pk).update(query="SELECT * FROM nowhere")

    response = act(admin_client, level_alert, "run")

    [message] = said(response)
    assert "ERROR" in message and "nowhere" in message


def test_disable_and_enable(admin_client, level_alert):
    response = act(admin_client, level_alert, "disable")
    level_alert.refresh_from_db()
    assert not level_alert.enabled and "disabled" in said(response)[0]

    response = act(admin_client, level_alert, "enable")
    level_alert.refresh_from_db()
    assert level_alert.enabled and "enabled" in said(response)[0]
    assert len(logged(level_alert)) == 2


@pytest.mark.parametrize("hours", [1, 4, 24])
def test_silence_for_hours_with_a_reason(admin_client, level_alert, hours):
    response = act(admin_client, level_alert, "silence", duration=f"{hours}h", reason="db maintenance")

    level_alert.refresh_from_db()
    expected = timezone.now() + timedelta(hours=hours)
    assert abs((level_alert.silenced_until - expected).total_seconds()) < 60
    assert level_alert.silence_reason == "db maintenance" and level_alert.silenced_by == "admin:admin"
    assert "silenced until" in said(response)[0] and "db maintenance" in said(response)[0]
    assert "silenced until" in logged(level_alert)[0]


def test_silence_until_a_time(admin_client, level_alert):
    until = (timezone.now() + timedelta(days=2)).replace(second=0, microsecond=0)

    act(admin_client, level_alert, "silence", duration="until", until=until.strftime("%Y-%m-%dT%H:%M"),
        reason="holiday")

    level_alert.refresh_from_db()
    assert level_alert.silenced_until == until


@pytest.mark.parametrize("data, words", [
    ({"duration": "1h", "reason": ""}, "reason is required"),
    ({"duration": "3h", "reason": "x"}, "Choose 1 h, 4 h, 24 h"),
    ({"duration": "until", "until": "2001-01-01T00:00", "reason": "x"}, "which has passed"),
    ({"duration": "until", "until": "next tuesday", "reason": "x"}, "Cannot read the end of the silence"),
])
def test_silence_form_errors_say_what_is_wrong_and_change_nothing(admin_client, level_alert, data, words):
    response = act(admin_client, level_alert, "silence", **data)

    [message] = said(response)
    assert "was not silenced" in message and words in message
    level_alert.refresh_from_db()
    assert level_alert.silenced_until is None


def test_unsilence(admin_client, level_alert):
    Alert.objects.filter(pk=level_alert.pk).update(silenced_until=timezone.now() + timedelta(hours=1),
                                                   silence_reason="x")

    response = act(admin_client, level_alert, "unsilence")

    level_alert.refresh_from_db()
    assert level_alert.silenced_until is None and level_alert.silence_reason == ""
    assert said(response) == ["disk-full unsilenced: messages go out again."]


def test_actions_refuse_get(admin_client, level_alert):
    assert admin_client.get(reverse("admin:alerts_alert_run", args=[level_alert.pk])).status_code == 405


def test_actions_go_back_to_the_list_when_asked_from_it_but_never_off_site(admin_client, level_alert):
    back = act(admin_client, level_alert, "disable", next="/admin/alerts/alert/?state=OK")
    away = act(admin_client, level_alert, "enable", next="https://evil.example/")

    assert back["Location"] == "/admin/alerts/alert/?state=OK"
    assert away["Location"] == reverse("admin:alerts_alert_change", args=[level_alert.pk])


def test_list_actions_run_enable_disable_unsilence(admin_client, level_alert, make_alert):
    other = make_alert(level_alert.datasource, level_alert.query, name="other",
                       silenced_until=timezone.now() + timedelta(hours=1))
    url = reverse("admin:alerts_alert_changelist")
    ids = [level_alert.pk, other.pk]

    admin_client.post(url, {"action": "disable_selected", "_selected_action": ids})
    assert not Alert.objects.filter(enabled=True).exists()
    admin_client.post(url, {"action": "enable_selected", "_selected_action": ids})
    assert Alert.objects.filter(enabled=True).count() == 2
    response = admin_client.post(url, {"action": "run_selected", "_selected_action": ids})
    assert Execution.objects.count() == 2 and len([m for m in said(response) if m.startswith("Ran ")]) == 2
    admin_client.post(url, {"action": "unsilence_selected", "_selected_action": ids})
    assert not Alert.objects.filter(silenced_until__isnull=False).exists()


def test_test_connection_says_it_connected(admin_client, level_alert):
    ds = level_alert.datasource

    response = admin_client.post(reverse("admin:alerts_datasource_test", args=[ds.pk]))

    [message] = said(response)
    assert message.startswith(f"Connected to {ds.name}: SELECT 1 answered in")


def test_test_connection_failure_never_shows_the_password(admin_client, make_datasource):
    ds = make_datasource("postgresql+psycopg2://reader:hunter2secret@127.0.0.1:1/nowhere", name="closed")

    response = admin_client.post(reverse("admin:alerts_datasource_test", args=[ds.pk]))

    [message] = said(response)
    assert message.startswith("Could not reach closed:")
    assert "hunter2secret" not in message and "hunter2secret" not in " ".join(logged(ds))


def test_datasource_page_never_shows_the_password_and_keeps_it_on_save(admin_client, make_datasource):
    ds = make_datasource("postgresql://reader:hunter2secret@db.internal/app", name="app")
    url = reverse("admin:alerts_datasource_change", args=[ds.pk])

    page = admin_client.get(url).content.decode()
    listing = admin_client.get(reverse("admin:alerts_datasource_changelist")).content.decode()
    admin_client.post(url, {"name": "app", "url": "postgresql://reader:***@db.internal/app",
                            "timeout_seconds": "30", "row_limit": "1000", "enabled": "on"})

    assert "hunter2secret" not in page and "hunter2secret" not in listing and "***" in page
    ds.refresh_from_db()
    assert ds.url == "postgresql://reader:hunter2secret@db.internal/app"


def test_test_send_through_a_channel(admin_client, log_channel):
    response = admin_client.post(reverse("admin:alerts_channel_test", args=[log_channel.pk]))

    [message] = said(response)
    assert message.startswith("Test message sent through log (log)")
    assert logged(log_channel) == [message]


def test_test_send_failure_is_reported_without_the_secret(admin_client, http_receiver):
    http_receiver.answer(500)
    channel = Channel.objects.create(name="hook", kind="webhook",
                                     config={"url": http_receiver.url + "/hook?token=abcdef123456789"})

    response = admin_client.post(reverse("admin:alerts_channel_test", args=[channel.pk]))

    [message] = said(response)
    assert message.startswith("Test message through hook failed:") and "500" in message
    assert "abcdef123456789" not in message


def test_channel_page_shows_failure_streak_and_recent_deliveries(admin_client, level_alert, log_channel,
                                                                 django_capture_on_commit_callbacks):
    level_alert.set_knob("level", 9)
    with django_capture_on_commit_callbacks(execute=True):
        act(admin_client, level_alert, "run")
    Channel.objects.filter(pk=log_channel.pk).update(failure_streak=4, last_failure="HTTP 500")

    page = admin_client.get(reverse("admin:alerts_channel_change", args=[log_channel.pk])).content.decode()

    assert "4 failed in a row" in page and "HTTP 500" in page
    assert "Recent deliveries" in page and "disk-full" in page


def test_state_survives_a_silence(admin_client, level_alert):
    """A silenced alert keeps running: Run now still moves its state."""
    act(admin_client, level_alert, "silence", duration="1h", reason="noisy")
    level_alert.set_knob("level", 9)

    act(admin_client, level_alert, "run")

    level_alert.refresh_from_db()
    assert level_alert.state == State.FIRING
    assert Notification.objects.get().status == "suppressed"
