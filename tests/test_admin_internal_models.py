"""django-celery-beat's own tables are Sentinel's mirror of the Schedules, not an
operator's: they are off the admin, and a schedule's page says what beat holds."""

import pytest
from django.urls import NoReverseMatch, reverse
from django_celery_beat.models import PeriodicTask

from alerts.mirror import sync_schedule
from schedules.models import Schedule
from schedules.sync import task_name
from tests.factories import LEVEL_QUERY

pytestmark = pytest.mark.django_db

BEAT_PAGES = ["periodictask", "crontabschedule", "intervalschedule", "clockedschedule", "solarschedule"]


def test_the_admin_index_shows_sentinels_schedules_and_not_beats_tables(admin_client):
    page = admin_client.get(reverse("admin:index")).content.decode()

    assert "Schedules" in page
    for label in ("Periodic tasks", "Crontabs", "Intervals", "Clocked", "Solar events"):
        assert label not in page
    assert "django_celery_beat" not in page


@pytest.mark.parametrize("model", BEAT_PAGES)
def test_beats_tables_have_no_admin_pages_even_for_a_superuser(admin_client, model):
    with pytest.raises(NoReverseMatch):
        reverse(f"admin:django_celery_beat_{model}_changelist")
    assert admin_client.get(f"/admin/django_celery_beat/{model}/").status_code == 404


def test_a_schedules_page_says_what_beat_holds_for_it(admin_client, sqlite_db, make_datasource, make_alert):
    url, _ = sqlite_db
    schedule = Schedule.objects.create(cron="0 9 * * *", timezone="Europe/Berlin")
    change = reverse("admin:schedules_schedule_change", args=[schedule.pk])
    assert "beat does not fire it" in admin_client.get(change).content.decode()

    make_alert(make_datasource(url), LEVEL_QUERY, name="orders-stuck", schedule=schedule)
    sync_schedule(schedule.pk)
    assert PeriodicTask.objects.filter(name=task_name(schedule.pk), enabled=True).exists()

    page = admin_client.get(change).content.decode()
    assert f"{task_name(schedule.pk)} (enabled)" in page
