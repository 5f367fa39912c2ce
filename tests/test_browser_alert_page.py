"""The alert page's clock, in a real browser: next runs in the schedule's own zone
and in UTC, and none for a disabled alert (harness: tests/browser_helpers.py)."""

import re

from alerts.models import Alert
from schedules.models import Schedule
from tests.browser_helpers import BROWSER, browser_page, expect, log_in  # noqa: F401  (fixture)
from tests.factories import LEVEL_QUERY

pytestmark = BROWSER


def test_a_9am_berlin_alert_reads_09_00_cet_and_its_utc_time(browser_page, sqlite_db, make_datasource, make_alert):
    page = browser_page
    url, _ = sqlite_db
    schedule = Schedule.objects.create(cron="0 9 * * *", timezone="Europe/Berlin")
    alert = make_alert(make_datasource(url), LEVEL_QUERY, name="orders-stuck", schedule=schedule)
    log_in(page)

    page.goto(f"/admin/alerts/alert/{alert.pk}/change/")

    runs = page.locator("#sn-next-runs .sn-run")
    expect(runs).to_have_count(5)
    for (local, utc), shown in zip(schedule.upcoming(5), runs.all_inner_texts()):
        # 09:00 Berlin is 08:00 UTC in winter (CET), 07:00 in summer (CEST).
        assert re.search(r"\b09:00 CES?T\b", shown), shown
        assert f"{utc:%Y-%m-%d} {7 if local.tzname() == 'CEST' else 8:02d}:00 UTC" in shown, shown


def test_a_disabled_alerts_page_lists_no_next_runs(browser_page, sqlite_db, make_datasource, make_alert):
    page = browser_page
    url, _ = sqlite_db
    schedule = Schedule.objects.create(cron="0 9 * * *", timezone="Europe/Berlin")
    alert = make_alert(make_datasource(url), LEVEL_QUERY, name="legacy-report", schedule=schedule, enabled=False)
    assert not Alert.objects.get(pk=alert.pk).enabled
    log_in(page)

    page.goto(f"/admin/alerts/alert/{alert.pk}/change/")

    expect(page.locator("#sn-next-runs")).to_contain_text("disabled: does not run")
    expect(page.locator("#sn-next-runs .sn-run")).to_have_count(0)
    expect(page.locator(".sn-panel")).not_to_contain_text("09:00")
