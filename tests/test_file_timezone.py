"""One zone for a whole file, and a deployment default: SQL Sentinel files that relied on the
daemon's single zone run at the same wall-clock times in Sentinel (docs/scheduling.md)."""

import textwrap
from datetime import datetime, timezone
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from alerts.models import Alert
from tests.api_helpers import admin_token, api, level  # noqa: F401  (fixtures)
from tests.factories import sentinel

pytestmark = pytest.mark.django_db

FIXTURES = Path(__file__).parent / "fixtures" / "sqlsentinel"
FILE_ZONE = FIXTURES / "sqlsentinel_file_timezone.yaml"
GLOBAL_ZONE = FIXTURES / "sqlsentinel_global_zone.yaml"
NEW_YORK = ZoneInfo("America/New_York")
UTC = timezone.utc

# A winter week and a summer week (Saturday 00:00 UTC): New York is UTC-5, then UTC-4.
WINTER = datetime(2026, 1, 3, tzinfo=UTC)
SUMMER = datetime(2026, 7, 4, tzinfo=UTC)


@pytest.fixture(autouse=True)
def fixture_db(tmp_path, monkeypatch):
    monkeypatch.setenv("SENTINEL_FIXTURE_DB", str(tmp_path / "fixture.sqlite3"))


def apply(*paths) -> str:
    code, out = sentinel("apply", *map(str, paths))
    assert code == 0, out
    return out


def week(alert, after) -> list[datetime]:
    return alert.schedule.ticks(after, limit=5)


def test_a_file_wide_timezone_runs_weekdays_at_nine_new_york_time():
    apply(FILE_ZONE)
    alert = Alert.objects.get(name="ny_open_check")

    assert alert.schedule.timezone == "America/New_York"
    assert week(alert, WINTER) == [datetime(2026, 1, d, 14, 0, tzinfo=UTC) for d in range(5, 10)]
    assert week(alert, SUMMER) == [datetime(2026, 7, d, 13, 0, tzinfo=UTC) for d in range(6, 11)]
    assert {t.astimezone(NEW_YORK).hour for t in week(alert, WINTER) + week(alert, SUMMER)} == {9}


def test_a_preset_in_a_file_with_a_zone_runs_in_that_zone():
    apply(FILE_ZONE)
    alert = Alert.objects.get(name="ny_close_check")

    assert week(alert, WINTER)[0] == datetime(2026, 1, 5, 21, 30, tzinfo=UTC)  # 16:30 New York


def test_an_alerts_own_timezone_wins_over_the_files():
    apply(FILE_ZONE)
    alert = Alert.objects.get(name="berlin_own_zone")

    assert alert.schedule.timezone == "Europe/Berlin"
    assert week(alert, WINTER)[0] == datetime(2026, 1, 3, 8, 0, tzinfo=UTC)  # 09:00 Berlin (UTC+1)


def test_a_file_without_a_zone_uses_the_deployment_default(settings):
    settings.SENTINEL_DEFAULT_TIMEZONE = "America/New_York"
    apply(GLOBAL_ZONE)
    alert = Alert.objects.get(name="global_zone_morning")

    assert alert.schedule.timezone == "America/New_York"
    assert week(alert, WINTER) == [datetime(2026, 1, d, 14, 0, tzinfo=UTC) for d in range(5, 10)]
    assert week(alert, SUMMER)[0] == datetime(2026, 7, 6, 13, 0, tzinfo=UTC)


def test_without_any_zone_alerts_run_in_utc():
    apply(GLOBAL_ZONE)

    assert Alert.objects.get(name="global_zone_morning").schedule.timezone == "UTC"


def test_the_files_zone_wins_over_the_deployment_default(settings):
    settings.SENTINEL_DEFAULT_TIMEZONE = "Asia/Tokyo"
    apply(FILE_ZONE)

    zones = dict(Alert.objects.values_list("name", "schedule__timezone"))
    assert zones == {"ny_open_check": "America/New_York", "ny_close_check": "America/New_York",
                     "berlin_own_zone": "Europe/Berlin"}


def test_changing_the_default_later_moves_file_alerts_at_their_next_apply(settings):
    apply(GLOBAL_ZONE)
    settings.SENTINEL_DEFAULT_TIMEZONE = "America/New_York"

    out = apply(GLOBAL_ZONE)

    assert "update    alert global_zone_morning" in out
    assert Alert.objects.get(name="global_zone_morning").schedule.timezone == "America/New_York"


def test_a_bad_file_timezone_is_an_error_with_its_line_and_nothing_is_applied(tmp_path):
    path = tmp_path / "alerts.yaml"
    path.write_text(textwrap.dedent("""
        database:
          url: sqlite://
        timezone: Mars/Olympus
        alerts:
          - name: red_planet
            query: SELECT 'OK' AS status
            schedule: "@daily"
        """).lstrip())

    code, out = sentinel("apply", str(path))

    assert code != 0
    assert f"{path}:3: timezone: Unknown timezone 'Mars/Olympus'" in out
    assert not Alert.objects.exists()


def test_export_writes_every_alerts_zone_so_it_applies_the_same_anywhere(tmp_path, settings):
    settings.SENTINEL_DEFAULT_TIMEZONE = "America/New_York"
    apply(FILE_ZONE, GLOBAL_ZONE)
    output = tmp_path / "export.yaml"
    assert sentinel("export", "--output", str(output))[0] == 0
    text = output.read_text()
    assert text.count("timezone: America/New_York") == 4 and text.count("timezone: Europe/Berlin") == 1

    # Applied where the default is another zone, nothing moves.
    settings.SENTINEL_DEFAULT_TIMEZONE = "UTC"
    out = apply(output)

    assert "0 to create, 0 to update, 0 to delete" in out
    assert Alert.objects.get(name="global_zone_morning").schedule.timezone == "America/New_York"


def test_the_api_gives_an_alert_without_a_zone_the_deployment_default(settings, api, level):
    settings.SENTINEL_DEFAULT_TIMEZONE = "America/New_York"

    response = api.post("/api/alerts", {"name": "from_api", "query": "SELECT 'OK' AS status",
                                        "schedule": "0 9 * * 1-5", "channels": ["log"]}, format="json")

    assert response.status_code == 201, response.json()
    assert response.json()["timezone"] == "America/New_York"
    assert Alert.objects.get(name="from_api").schedule.timezone == "America/New_York"


def test_the_admin_add_form_starts_on_the_deployment_default(settings, admin_client):
    settings.SENTINEL_DEFAULT_TIMEZONE = "America/New_York"

    page = admin_client.get("/admin/alerts/alert/add/").content.decode()

    assert 'name="schedule_timezone" value="America/New_York"' in page
