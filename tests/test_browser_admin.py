"""The operator's console in a real browser: Playwright driving Debian's chromium
against pytest-django's live server.

The harness (and when these tests skip) is tests/browser_helpers.py. Set SENTINEL_SCREENSHOTS_DIR
(e.g. docs/screenshots) to keep the screenshots of each main page."""

import os
import re
from datetime import timedelta
from pathlib import Path

import pytest
from django.utils import timezone

from alerts.models import Alert, Execution, ExecutionStatus, Notification, State
from tests.admin_helpers import add_executions
from tests.browser_helpers import BROWSER, browser_page, expect, log_in, saved_message  # noqa: F401  (fixture)
from tests.factories import LEVEL_QUERY

pytestmark = BROWSER


@pytest.fixture
def shots(tmp_path):
    folder = Path(os.environ.get("SENTINEL_SCREENSHOTS_DIR") or tmp_path)
    folder.mkdir(parents=True, exist_ok=True)

    def shot(page, name):
        page.screenshot(path=str(folder / f"{name}.png"), full_page=True)

    return shot


def test_create_preview_test_run_and_silence_an_alert(browser_page, sqlite_db, log_channel, shots):
    page = browser_page
    url, set_knob = sqlite_db
    set_knob("level", 9)
    log_in(page)

    # A datasource, through its form; then Test connection.
    page.goto("/admin/alerts/datasource/add/")
    page.fill("#id_name", "warehouse")
    page.fill("#id_url", url)
    page.click("input[name=_continue]")
    page.click("#sn-test-connection")
    expect(saved_message(page)).to_contain_text("Connected to warehouse")
    shots(page, "datasource")

    # A schedule, through its form: the preview appears as you type.
    page.goto("/admin/schedules/schedule/add/")
    page.fill("#id_schedule_text", "0 9 * * 1-5")
    page.fill("#id_timezone", "Europe/Berlin")
    expect(page.locator("#sn-schedule-preview")).to_contain_text("Next five runs")
    expect(page.locator("#sn-schedule-preview tr")).to_have_count(5)
    expect(page.locator("#sn-schedule-preview")).to_contain_text("09:00")
    page.fill("#id_schedule_text", "0 9 * *")
    expect(page.locator("#sn-schedule-preview")).to_contain_text("Cannot read schedule")
    page.fill("#id_schedule_text", "0 9 * * 1-5")
    expect(page.locator("#sn-schedule-preview tr")).to_have_count(5)
    page.click("input[name=_continue]")
    expect(saved_message(page)).to_contain_text("was added successfully")
    shots(page, "schedule")

    # An alert, through its form: schedule preview, then Test query before saving.
    page.goto("/admin/alerts/alert/add/")
    page.fill("#id_name", "disk-full")
    page.fill("#id_description", "The data disk is nearly full.")
    page.select_option("#id_datasource", label="warehouse")
    page.fill("#id_query", LEVEL_QUERY)
    page.fill("#id_schedule_text", "*/5 * * * *")
    page.fill("#id_schedule_timezone", "America/New_York")
    expect(page.locator("#sn-schedule-preview tr")).to_have_count(5)
    expect(page.locator("#sn-schedule-preview")).to_contain_text(re.compile(r"E[SD]T"))
    page.select_option("#id_channels_from", label="log (log)")
    page.click("#id_channels_add")
    page.click("#sn-test-query")
    dry = page.locator("#sn-dry-run")
    expect(dry).to_contain_text("dry run: nothing saved")
    expect(dry.locator(".sn-badge").first).to_have_text("ALERT")
    expect(dry.locator("table.sn-result")).to_contain_text("ALERT")
    assert not Alert.objects.filter(name="disk-full").exists()
    shots(page, "alert-form")
    page.click("input[name=_continue]")
    expect(saved_message(page)).to_contain_text("was added successfully")
    alert = Alert.objects.get(name="disk-full")
    assert alert.schedule.cron == "*/5 * * * *" and alert.schedule.timezone == "America/New_York"

    # Run it now: the page says what happened, the history shows the execution.
    page.click("#sn-run-now")
    expect(saved_message(page)).to_contain_text("Ran disk-full: ALERT")
    expect(page.locator("#sn-history tbody tr")).to_have_count(1)
    execution = Execution.objects.get(alert=alert)
    assert Notification.objects.get(execution=execution).status == "sent"

    # The execution page shows its rows and the notification it caused.
    page.click(f"#sn-history a[href='/admin/alerts/execution/{execution.pk}/change/']")
    expect(page.locator("table.sn-result")).to_contain_text("ALERT")
    expect(page.locator("body")).to_contain_text("Notifications this execution caused")
    expect(page.locator("body")).to_contain_text("sent")
    shots(page, "execution")

    # Silence it for 4 hours with a reason.
    page.goto(f"/admin/alerts/alert/{alert.pk}/change/")
    page.select_option("#sn-silence-duration", "4h")
    page.fill("#sn-silence-reason", "disk resize in progress")
    page.click("#sn-silence")
    expect(saved_message(page)).to_contain_text("silenced until")
    expect(page.locator("p.sn-silenced")).to_contain_text("disk resize in progress")
    alert.refresh_from_db()
    assert alert.is_silenced() and alert.silence_reason == "disk resize in progress"

    page.goto("/admin/alerts/alert/")
    expect(page.locator("tr", has_text="disk-full").locator(".sn-badge").first).to_have_text("SILENCED")


def test_main_pages_with_history(browser_page, sqlite_db, make_datasource, make_alert, log_channel, shots):
    """The pages an on-call opens first, with some history in them (also the docs' screenshots)."""
    page = browser_page
    url, set_knob = sqlite_db
    ds = make_datasource(url, name="warehouse")
    from schedules.models import Schedule

    every5 = Schedule.objects.create(cron="*/5 * * * *", timezone="Europe/Berlin")
    daily = Schedule.objects.create(cron="0 9 * * *", timezone="America/New_York")
    now = timezone.now()
    specs = [
        ("orders-stuck", State.FIRING, "critical", [3, 5, 8, 12, 15, 19, 24, 31], every5, {}),
        ("replication-lag", State.OK, "warning", [4, 3, 5, 2, 3, 4, 2, 3], every5, {}),
        ("nightly-load-missing", State.NO_DATA, "warning", [], daily, {}),
        ("queue-depth", State.PENDING, "info", [10, 12, 11, 14, 18, 22], every5, {}),
        ("payments-errors", State.ERROR, "critical", [0, 1, 0, 2], every5, {}),
        ("disk-full", State.FIRING, "critical", [70, 74, 79, 83, 88, 91], every5,
         {"silenced_until": now + timedelta(hours=3), "silence_reason": "disk resize in progress"}),
        ("legacy-report", State.OK, "info", [1, 1, 1], daily, {"enabled": False}),
    ]
    for name, state, severity, values, schedule, extra in specs:
        alert = make_alert(ds, LEVEL_QUERY, name=name, severity=severity, schedule=schedule, channels=[log_channel],
                           mode="threshold", value_column="actual_value", threshold=20, **extra)
        add_executions(alert, values, status=ExecutionStatus.OK, threshold=20)
        Alert.objects.filter(pk=alert.pk).update(
            state=state, state_since=now - timedelta(minutes=47), last_run_at=now - timedelta(minutes=2),
            last_status={State.FIRING: "ALERT", State.ERROR: "ERROR", State.NO_DATA: "NO_DATA"}.get(state, "OK"),
            last_value=values[-1] if values else None)
    set_knob("level", 25)
    from alerts import runner

    runner.run(Alert.objects.get(name="orders-stuck"), now, "manual")
    log_in(page)

    page.goto("/admin/alerts/alert/")
    expect(page.locator("svg.sn-spark").first).to_be_visible()
    expect(page.locator("#result_list")).to_contain_text("FIRING")
    shots(page, "alerts-list")

    page.goto(f"/admin/alerts/alert/{Alert.objects.get(name='orders-stuck').pk}/change/")
    expect(page.locator("svg.sn-chart")).to_be_visible()
    shots(page, "alert-page")

    page.goto("/admin/alerts/execution/")
    expect(page.locator("#result_list")).to_contain_text("orders-stuck")
    shots(page, "executions-list")

    page.goto("/admin/alerts/notification/")
    expect(page.locator("#result_list")).to_contain_text("firing", ignore_case=True)
    shots(page, "notifications-list")

    page.goto(f"/admin/alerts/channel/{log_channel.pk}/change/")
    expect(page.locator("body")).to_contain_text("Recent deliveries")
    shots(page, "channel")

    page.goto("/admin/schedules/schedule/")
    expect(page.locator("#result_list")).to_contain_text("Europe/Berlin")
    shots(page, "schedules-list")
