"""The Schedule admin (alerts/admin/schedules.py): the preview as you type, the page with
its next runs, fired ticks and alerts, and the form that reads presets and cron."""

import pytest
from django.urls import reverse

from alerts.models import Alert
from schedules.models import Schedule
from tests.admin_helpers import level_alert  # noqa: F401  (fixture)

pytestmark = pytest.mark.django_db

PREVIEW = reverse("admin:schedules_schedule_preview")


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


def test_schedule_page_shows_fired_ticks_and_gaps(admin_client):
    from datetime import datetime, timezone as tz

    from schedules.models import FiredTick

    schedule = Schedule.objects.create(cron="*/5 * * * *", timezone="UTC")
    FiredTick.objects.create(schedule=schedule, tick=datetime(2026, 11, 24, 9, 30, tzinfo=tz.utc), alerts=3,
                             missed_count=2, missed_first=datetime(2026, 11, 24, 9, 20, tzinfo=tz.utc),
                             missed_last=datetime(2026, 11, 24, 9, 25, tzinfo=tz.utc))

    page = admin_client.get(reverse("admin:schedules_schedule_change", args=[schedule.pk])).content.decode()

    assert "2026-11-24 09:30:00 UTC" in page and "3 alert(s)" in page and "2 missed before it" in page
