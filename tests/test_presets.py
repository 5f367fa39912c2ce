"""Named schedules: listed by the API, accepted as bare words everywhere a schedule is given, and
an alert's JSON says when it runs next and when it was last due (docs/scheduling.md, docs/api.md)."""

import textwrap
from datetime import datetime, timedelta, timezone

import pytest
from django.utils import timezone as dj_timezone
from rest_framework.test import APIClient

from alerts.models import Alert
from schedules.cron import MACROS
from schedules.models import Schedule
from tests.api_helpers import admin_token, api, level  # noqa: F401  (fixtures)
from tests.factories import sentinel
from tests.test_admin_alerts import form_data

pytestmark = pytest.mark.django_db

BARE = ["hourly", "daily", "weekly", "monthly", "yearly"]


def test_the_api_lists_the_presets_with_what_each_reads_as(api):
    response = api.get("/api/presets")

    assert response.status_code == 200
    presets = {p["name"]: p for p in response.json()}
    assert {"every minute", "every 5 minutes", "every 15 minutes", *BARE} <= set(presets)
    assert presets["hourly"]["cron"] == MACROS["@hourly"] == "0 * * * *"
    assert presets["every 5 minutes"]["cron"] == "*/5 * * * *"
    assert all(p["description"] for p in presets.values())


def test_the_presets_need_a_signed_in_caller():
    assert APIClient().get("/api/presets").status_code == 401


def test_every_listed_preset_is_accepted_by_the_api_and_reads_as_its_cron(api, level):
    for preset in api.get("/api/presets").json():
        response = api.patch("/api/alerts/level_high", {"schedule": preset["name"]}, format="json")

        assert response.status_code == 200, (preset, response.json())
        assert Alert.objects.get(name="level_high").schedule.cron == preset["cron"]


@pytest.mark.parametrize("word", BARE + ["every_5_minutes"])
def test_a_bare_word_is_a_schedule_in_a_file(tmp_path, word):
    path = tmp_path / "alerts.yaml"
    path.write_text(textwrap.dedent(f"""
        database:
          url: sqlite://
        alerts:
          - name: bare
            query: SELECT 'OK' AS status
            schedule: {word}
        """))

    code, out = sentinel("apply", str(path))

    assert code == 0, out
    expected = MACROS.get(f"@{word}", "*/5 * * * *")
    assert Alert.objects.get(name="bare").schedule.cron == expected


def test_a_bare_word_is_a_schedule_in_the_admin(admin_client, level):
    alert, _ = level
    data = form_data(alert.datasource, name="weekly-admin", schedule_text="weekly", schedule_timezone="UTC")

    response = admin_client.post("/admin/alerts/alert/add/", data)

    assert response.status_code == 302, response.content.decode()[:2000]
    assert Alert.objects.get(name="weekly-admin").schedule.cron == "0 0 * * 0"


def test_a_misspelt_word_is_refused_saying_what_is_accepted(api, level):
    response = api.patch("/api/alerts/level_high", {"schedule": "hourlyy"}, format="json")

    assert response.status_code == 400
    assert "hourly" in " ".join(response.json()["schedule"])


def test_the_alert_json_has_its_next_and_last_run_in_its_zone(api, level):
    alert, _ = level
    alert.schedule = Schedule.objects.for_timing(cron="0 9 * * 1-5", timezone="America/New_York")
    alert.save()
    now = dj_timezone.now()

    body = api.get("/api/alerts/level_high").json()

    next_run, last_run = datetime.fromisoformat(body["next_run"]), datetime.fromisoformat(body["last_run"])
    assert next_run.utcoffset() in (timedelta(hours=-5), timedelta(hours=-4))  # New York's offset, not UTC's
    assert (next_run.hour, next_run.minute, last_run.hour) == (9, 0, 9)
    assert last_run <= now < next_run
    assert next_run.astimezone(timezone.utc) == alert.schedule.ticks(now, limit=1)[0]
    assert last_run.weekday() < 5 and next_run.weekday() < 5
    # The same figures in the list.
    listed = next(a for a in api.get("/api/alerts").json()["results"] if a["name"] == "level_high")
    assert (listed["next_run"], listed["last_run"]) == (body["next_run"], body["last_run"])


def test_an_unscheduled_or_disabled_alert_has_no_next_or_last_run(api, level):
    body = api.get("/api/alerts/level_high").json()
    assert (body["next_run"], body["last_run"]) == (None, None)  # no schedule

    api.patch("/api/alerts/level_high", {"schedule": "hourly"}, format="json")
    assert api.get("/api/alerts/level_high").json()["next_run"] is not None
    api.post("/api/alerts/level_high/disable")

    body = api.get("/api/alerts/level_high").json()
    assert (body["next_run"], body["last_run"]) == (None, None)


def test_next_and_last_run_are_read_only_and_a_fetched_body_can_be_sent_back(api, level):
    api.patch("/api/alerts/level_high", {"schedule": "daily"}, format="json")
    body = api.get("/api/alerts/level_high").json()
    body["next_run"] = "2000-01-01T00:00:00+00:00"

    response = api.put("/api/alerts/level_high", body, format="json")

    assert response.status_code == 200, response.json()
    assert response.json()["next_run"] != body["next_run"]
