"""Executions, notifications and schedules pages, the schedule preview, and who may do what."""

import pytest
from django.contrib.auth.models import Group
from django.urls import reverse

from alerts.admin_display import CappedCountPaginator
from alerts.models import Alert, Execution, Notification
from schedules.models import Schedule
from tests.admin_helpers import add_executions, level_alert, said, staff_client  # noqa: F401  (fixtures)

pytestmark = pytest.mark.django_db

PREVIEW = reverse("admin:schedules_schedule_preview")


@pytest.fixture
def ran(admin_client, level_alert, django_capture_on_commit_callbacks):
    """The level alert run once while firing: one execution, one sent notification."""
    level_alert.set_knob("level", 9)
    with django_capture_on_commit_callbacks(execute=True):
        admin_client.post(reverse("admin:alerts_alert_run", args=[level_alert.pk]))
    return Execution.objects.get(alert=level_alert)


def test_executions_list_shows_status_value_and_state_change(admin_client, ran):
    page = admin_client.get(reverse("admin:alerts_execution_changelist")).content.decode()

    assert "disk-full" in page and "sn-badge sn-alert" in page and "9 / 5" in page
    assert "OK → <b>FIRING</b>" in page


@pytest.mark.parametrize("query, found", [
    ("status__exact=ALERT", True), ("status__exact=OK", False), ("trigger__exact=manual", True),
    ("alert=disk-full", True), ("alert=other", False), ("when=1h", True),
])
def test_executions_list_filters(admin_client, ran, query, found):
    page = admin_client.get(reverse("admin:alerts_execution_changelist") + "?" + query).content.decode()

    assert ("9 / 5" in page) is found


def test_execution_page_shows_rows_timings_and_the_notification_it_caused(admin_client, ran):
    page = admin_client.get(reverse("admin:alerts_execution_change", args=[ran.pk])).content.decode()

    assert "<th>status</th>" in page and "<td>ALERT</td>" in page
    assert "Timings" in page and "Lag" in page
    assert "Notifications this execution caused" in page and "firing" in page
    assert 'name="_save"' not in page  # history is read-only


def test_execution_page_shows_the_error(admin_client, level_alert):
    Alert.objects.filter(pk=level_alert.pk).update(query="SELECT * FROM nowhere")
    admin_client.post(reverse("admin:alerts_alert_run", args=[level_alert.pk]))
    execution = Execution.objects.get()

    page = admin_client.get(reverse("admin:alerts_execution_change", args=[execution.pk])).content.decode()

    assert 'class="sn-error-block"' in page and "nowhere" in page


def test_notifications_list_and_page_show_every_attempt(admin_client, ran):
    notification = Notification.objects.get()

    listing = admin_client.get(reverse("admin:alerts_notification_changelist")).content.decode()
    page = admin_client.get(reverse("admin:alerts_notification_change", args=[notification.pk])).content.decode()

    assert "disk-full" in listing and "sn-badge sn-sent" in listing
    assert "Delivery attempts" in page and f"execution {ran.pk}" in page


def test_long_lists_count_at_most_the_cap(admin_client, level_alert, monkeypatch):
    monkeypatch.setattr(CappedCountPaginator, "CAP", 3)
    add_executions(level_alert, [1, 2, 3, 4, 5])

    page = admin_client.get(reverse("admin:alerts_execution_changelist")).content.decode()

    assert "more than 3" in page


def test_schedule_preview_gives_five_runs_in_the_timezone_and_utc(admin_client):
    data = admin_client.get(PREVIEW, {"text": "0 9 * * *", "timezone": "Europe/Berlin"}).json()

    assert data["timezone"] == "Europe/Berlin" and len(data["runs"]) == 5
    first = data["runs"][0]
    assert " 09:00 " in first["local"] and first["utc"].endswith(("08:00 UTC", "07:00 UTC"))


@pytest.mark.parametrize("params, words", [
    ({"text": "61 * * * *", "timezone": "UTC"}, "Cannot read schedule"),
    ({"text": "@hourly", "timezone": "Nowhere/City"}, "Unknown timezone"),
    ({"text": "", "timezone": "UTC"}, "Type a preset"),
])
def test_schedule_preview_explains_bad_input(admin_client, params, words):
    response = admin_client.get(PREVIEW, params)

    assert response.status_code == 400 and words in response.json()["error"]


def test_schedule_preview_is_for_staff_only(client):
    response = client.get(PREVIEW, {"text": "@hourly", "timezone": "UTC"})

    assert response.status_code == 302 and "/login/" in response["Location"]


def test_schedule_page_shows_next_runs_and_its_alerts(admin_client, level_alert):
    schedule = Schedule.objects.create(cron="30 6 * * *", timezone="Asia/Tokyo")
    Alert.objects.filter(pk=level_alert.pk).update(schedule=schedule)

    page = admin_client.get(reverse("admin:schedules_schedule_change", args=[schedule.pk])).content.decode()
    listing = admin_client.get(reverse("admin:schedules_schedule_changelist")).content.decode()

    assert page.count("06:30 JST") == 5 and "disk-full" in page
    assert "06:30 JST" in listing


def test_schedule_form_shows_invalid_cron_on_the_field(admin_client):
    response = admin_client.post(reverse("admin:schedules_schedule_add"),
                                 {"schedule_text": "* * *", "timezone": "UTC"})

    assert "Cannot read schedule" in " ".join(response.context["adminform"].form.errors["schedule_text"])


def test_schedule_form_saves_cron_and_timezone(admin_client):
    response = admin_client.post(reverse("admin:schedules_schedule_add"),
                                 {"schedule_text": "*/15 * * * *", "timezone": "Europe/Paris"})

    assert response.status_code == 302
    assert Schedule.objects.filter(cron="*/15 * * * *", timezone="Europe/Paris").exists()


def test_migration_creates_viewer_and_editor_groups():
    viewers = set(Group.objects.get(name="Sentinel viewers").permissions.values_list("codename", flat=True))
    editors = set(Group.objects.get(name="Sentinel editors").permissions.values_list("codename", flat=True))

    assert "view_alert" in viewers and "view_execution" in viewers
    assert not any(c.startswith(("add_", "change_", "delete_")) for c in viewers)
    assert {"add_alert", "change_alert", "view_datasource", "change_channel", "change_schedule"} <= editors
    assert "change_execution" not in editors
    assert "change_datasource" not in editors  # a datasource manager's (docs/security.md §3)


def test_viewer_sees_pages_but_cannot_act(staff_client, level_alert):
    client = staff_client("Sentinel viewers")
    page = client.get(reverse("admin:alerts_alert_change", args=[level_alert.pk]))

    assert page.status_code == 200 and "sn-run-now" not in page.content.decode()
    for action in ("run", "enable", "disable", "silence", "unsilence", "test_query"):
        assert client.post(reverse(f"admin:alerts_alert_{action}", args=[level_alert.pk]),
                           {"duration": "1h", "reason": "x"}).status_code == 403
    assert client.post(reverse("admin:alerts_datasource_test", args=[level_alert.datasource_id])).status_code == 403
    assert Execution.objects.count() == 0


def test_editor_can_act(staff_client, level_alert):
    client = staff_client("Sentinel editors")

    response = client.post(reverse("admin:alerts_alert_silence", args=[level_alert.pk]),
                           {"duration": "4h", "reason": "deploy"})

    assert response.status_code == 302 and "silenced until" in said(response)[0]


def test_admin_is_staff_only(client, django_user_model, level_alert):
    user = django_user_model.objects.create_user("outsider", password="pw")
    client.force_login(user)

    response = client.get(reverse("admin:alerts_alert_changelist"))

    assert response.status_code == 302 and "/login/" in response["Location"]


def test_every_form_change_is_in_the_admin_log(admin_client, level_alert):
    from django.contrib.admin.models import LogEntry

    url = reverse("admin:alerts_datasource_change", args=[level_alert.datasource_id])
    admin_client.post(url, {"name": "renamed", "url": level_alert.datasource.url, "timeout_seconds": "30",
                            "row_limit": "1000", "enabled": "on"})

    assert LogEntry.objects.filter(object_id=str(level_alert.datasource_id)).exists()


def test_schedule_page_shows_fired_ticks_and_gaps(admin_client):
    from datetime import datetime, timezone as tz

    from schedules.models import FiredTick

    schedule = Schedule.objects.create(cron="*/5 * * * *", timezone="UTC")
    FiredTick.objects.create(schedule=schedule, tick=datetime(2026, 11, 24, 9, 30, tzinfo=tz.utc), alerts=3,
                             missed_count=2, missed_first=datetime(2026, 11, 24, 9, 20, tzinfo=tz.utc),
                             missed_last=datetime(2026, 11, 24, 9, 25, tzinfo=tz.utc))

    page = admin_client.get(reverse("admin:schedules_schedule_change", args=[schedule.pk])).content.decode()

    assert "2026-11-24 09:30:00 UTC" in page and "3 alert(s)" in page and "2 missed before it" in page
