"""Enable, disable, silence and unsilence do what they promise from every face:
the admin button, the admin list action, the API, the CLI and the signed link.

Promise, not flag: after an enable the alert's schedule has its beat entry and the
alert runs at the next tick; after a disable no beat entry is left behind and the
next tick runs nothing; a silenced alert keeps running and recording while its
messages are held back."""

from datetime import timedelta

import pytest
from django.contrib.auth.models import User
from django.core.management.base import CommandError
from django.urls import reverse
from django.utils import timezone
from django_celery_beat.models import PeriodicTask
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from alerts import links
from alerts.fanout import fire_schedule
from alerts.models import Alert, Execution, Notification, NotificationStatus
from schedules.models import Schedule
from schedules.sync import task_name
from tests.factories import LEVEL_QUERY, sentinel

pytestmark = pytest.mark.django_db


@pytest.fixture
def lone_alert(sqlite_db, make_datasource, make_alert, log_channel):
    """An alert alone on its every-minute schedule (so its enable or disable decides whether
    the schedule has a beat entry), firing: knob level 9 > 5."""
    url, set_knob = sqlite_db
    set_knob("level", 9)
    schedule = Schedule.objects.for_timing(cron="* * * * *", timezone="Europe/Berlin")
    return make_alert(make_datasource(url), LEVEL_QUERY, name="disk-full", channels=[log_channel],
                      schedule=schedule)


@pytest.fixture
def superuser(db):
    return User.objects.create_superuser("ops", "ops@example.com", "pw")


def beat_entry(alert):
    return PeriodicTask.objects.filter(name=task_name(alert.schedule_id), enabled=True,
                                       task="schedules.fire_schedule").first()


def next_tick_runs(alert, capture) -> list[Execution]:
    """Let the schedule's next tick fire (as beat's fan-out does) and return what it ran."""
    tick = alert.schedule.ticks(timezone.now(), limit=1)[0]
    with capture(execute=True):
        fire_schedule(alert.schedule_id, now=tick + timedelta(seconds=1))
    return list(Execution.objects.filter(alert=alert, scheduled_for=tick))


# Each face, as the person using it would: (enable or disable) the alert.


def by_admin_button(client, alert, enabled):
    client.post(reverse(f"admin:alerts_alert_{'enable' if enabled else 'disable'}", args=[alert.pk]))


def by_admin_list_action(client, alert, enabled):
    client.post(reverse("admin:alerts_alert_changelist"),
                {"action": "enable_selected" if enabled else "disable_selected", "_selected_action": [alert.pk]})


def by_api(client, alert, enabled):
    token = Token.objects.create(user=User.objects.get(username="ops")).key
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    assert api.post(f"/api/alerts/{alert.name}/{'enable' if enabled else 'disable'}").status_code == 200


def by_cli(client, alert, enabled):
    code, _ = sentinel("enable" if enabled else "disable", alert.name)
    assert code == 0


FACES = [by_admin_button, by_admin_list_action, by_api, by_cli]


@pytest.mark.parametrize("face", FACES, ids=lambda f: f.__name__)
def test_enabling_from_each_face_runs_the_alert_at_the_next_tick(face, client, superuser, lone_alert,
                                                                 django_capture_on_commit_callbacks):
    lone_alert.set_enabled(False, by="test")
    assert beat_entry(lone_alert) is None
    client.force_login(superuser)

    face(client, lone_alert, True)

    assert beat_entry(lone_alert) is not None, "the schedule has no beat entry: the alert would never run"
    [execution] = next_tick_runs(lone_alert, django_capture_on_commit_callbacks)
    assert execution.status == "ALERT"


@pytest.mark.parametrize("face", FACES, ids=lambda f: f.__name__)
def test_disabling_from_each_face_leaves_no_beat_entry_and_runs_nothing(face, client, superuser, lone_alert,
                                                                        django_capture_on_commit_callbacks):
    assert beat_entry(lone_alert) is not None
    client.force_login(superuser)

    face(client, lone_alert, False)

    assert not PeriodicTask.objects.filter(name=task_name(lone_alert.schedule_id)).exists(), "orphan beat entry"
    assert next_tick_runs(lone_alert, django_capture_on_commit_callbacks) == []


def test_disabling_one_of_two_alerts_on_a_schedule_keeps_the_other_running(client, superuser, lone_alert,
                                                                           make_alert,
                                                                           django_capture_on_commit_callbacks):
    other = make_alert(lone_alert.datasource, LEVEL_QUERY, name="disk-full-too", schedule=lone_alert.schedule)
    client.force_login(superuser)

    by_admin_list_action(client, lone_alert, False)

    assert beat_entry(lone_alert) is not None
    next_tick_runs(lone_alert, django_capture_on_commit_callbacks)
    assert Execution.objects.filter(alert=other).count() == 1
    assert not Execution.objects.filter(alert=lone_alert).exists()


# Silence: (silence the alert for an hour with a reason) from each face.


def silence_by_admin_button(client, alert, reason):
    client.post(reverse("admin:alerts_alert_silence", args=[alert.pk]), {"duration": "1h", "reason": reason})


def silence_by_api(client, alert, reason):
    token = Token.objects.create(user=User.objects.get(username="ops")).key
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    return api.post(f"/api/alerts/{alert.name}/silence", {"duration": "1h", "reason": reason}, format="json")


def silence_by_cli(client, alert, reason):
    return sentinel("silence", alert.name, "--for", "1h", "--reason", reason)


def silence_by_link(client, alert, reason):
    token = links.make_token(alert.pk, 1, "slack", timezone.now())
    client.post(reverse("silence-link", args=[token]), {"who": "Ana", "reason": reason})


SILENCE_FACES = [silence_by_admin_button, silence_by_api, silence_by_cli, silence_by_link]


@pytest.mark.parametrize("face", SILENCE_FACES, ids=lambda f: f.__name__)
def test_a_silenced_alert_keeps_running_and_its_message_is_held_back(face, client, superuser, lone_alert,
                                                                     django_capture_on_commit_callbacks):
    client.force_login(superuser)

    face(client, lone_alert, "restock underway")

    lone_alert.refresh_from_db()
    assert lone_alert.silence_reason == "restock underway"
    assert timedelta(minutes=59) < lone_alert.silenced_until - timezone.now() <= timedelta(hours=1)
    [execution] = next_tick_runs(lone_alert, django_capture_on_commit_callbacks)
    assert execution.status == "ALERT"
    [notification] = Notification.objects.filter(execution=execution)
    assert notification.status == NotificationStatus.SUPPRESSED


def test_a_silence_without_a_reason_is_refused_by_every_face_that_asks_for_one(client, superuser, lone_alert):
    client.force_login(superuser)

    silence_by_admin_button(client, lone_alert, "  ")
    response = silence_by_api(client, lone_alert, "")
    with pytest.raises(CommandError, match="required: --reason"):
        sentinel("silence", lone_alert.name, "--for", "1h")
    with pytest.raises(CommandError, match="a reason is required") as blank:
        silence_by_cli(client, lone_alert, "   ")

    assert response.status_code == 400 and "reason" in response.json()
    assert blank.value.returncode == 2
    assert Alert.objects.get(pk=lone_alert.pk).silenced_until is None


def test_unsilencing_lets_the_next_firing_message_out(client, superuser, lone_alert,
                                                      django_capture_on_commit_callbacks):
    lone_alert.silence(timezone.now() + timedelta(hours=4), "maintenance", by="test")
    client.force_login(superuser)

    client.post(reverse("admin:alerts_alert_unsilence", args=[lone_alert.pk]))

    [execution] = next_tick_runs(lone_alert, django_capture_on_commit_callbacks)
    [notification] = Notification.objects.filter(execution=execution)
    assert notification.status == NotificationStatus.SENT
