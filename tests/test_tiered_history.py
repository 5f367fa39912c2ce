"""Tiered history (docs/operating.md, "Retention"): inside the raw window (SENTINEL_RAW_HISTORY_DAYS,
7 days) every run stays; beyond it, up to the retention, only the runs people look back for stay
(not OK, a state change, a notification sent) and the alert's latest run, while the plain OK runs go;
statistics over those days keep their figures (they read the hourly rollups); and a raw window as
long as the retention keeps every run until the retention, as before the tiers.
Runs on the test PostgreSQL database, and on SQLite when the suite runs without one."""

from datetime import timedelta

import pytest
from django.test import override_settings
from django.urls import reverse
from django.utils import timezone

from alerts import retention, rollups, stats
from alerts.models import Channel, Execution, ExecutionRollup, ExecutionStatus as S, Notification, State, Trigger
from tests.test_stats_from_rollups import minutely, same_figures

pytestmark = pytest.mark.django_db

NOW = timezone.now().replace(microsecond=0)


@pytest.fixture
def alert(sqlite_db, make_datasource, make_alert):
    return make_alert(make_datasource(sqlite_db[0]), "SELECT 'OK' AS status")


def run(alert, days_ago, status=S.OK, before=State.OK, after=State.OK, minutes=0):
    tick = NOW - timedelta(days=days_ago, minutes=minutes)
    return Execution.objects.create(alert=alert, scheduled_for=tick, trigger=Trigger.SCHEDULE, status=status,
                                    started_at=tick, finished_at=tick, duration_ms=5, state_before=before,
                                    state_after=after)


def rolled_up_and_pruned():
    """What the two periodic tasks do: roll the history up, then prune it."""
    rollups.roll_up()
    return retention.prune(now=NOW)


def kept(alert) -> set[int]:
    return set(Execution.objects.filter(alert=alert).values_list("pk", flat=True))


def test_beyond_the_raw_window_alerts_state_changes_and_notified_runs_stay_and_plain_ok_runs_go(alert):
    channel = Channel.objects.create(name="ops", kind="log")
    plain = [run(alert, 30, minutes=m) for m in range(3)]
    not_ok = [run(alert, 20, status, minutes=i) for i, status in enumerate(
        [S.ALERT, S.NO_DATA, S.ERROR, S.TIMEOUT, S.MISSED, S.SKIPPED])]
    recovered = run(alert, 15, before=State.FIRING, after=State.OK)
    notified = run(alert, 10)
    Notification.objects.create(execution=notified, alert=alert, channel=channel, event="firing", status="sent")
    latest = run(alert, 8)  # older than the raw window, plain, and the alert's latest run

    pruned = rolled_up_and_pruned()

    assert kept(alert) == {e.pk for e in not_ok + [recovered, notified, latest]}
    assert pruned.executions == len(plain) and pruned.finished
    assert Notification.objects.filter(execution=notified).exists()


def test_inside_the_raw_window_every_run_stays(alert):
    runs = [run(alert, 6, minutes=m) for m in range(5)] + [run(alert, 1), run(alert, 0, S.ALERT)]
    run(alert, 91)  # past the retention: goes, whatever the tiers

    rolled_up_and_pruned()

    assert kept(alert) == {e.pk for e in runs}


def test_plain_ok_runs_beyond_the_raw_window_go_once_their_hour_is_rolled_up(alert):
    plain = run(alert, 30)
    run(alert, 0)

    assert retention.prune(now=NOW).executions == 0  # nothing rolled up yet: the raw row is the only copy
    assert plain.pk in kept(alert)

    rolled_up_and_pruned()
    assert plain.pk not in kept(alert)
    assert ExecutionRollup.objects.get(alert=alert, hour=plain.scheduled_for.replace(minute=0, second=0)).runs_ok == 1


def test_statistics_beyond_the_raw_window_give_the_same_figures_after_the_prune(alert):
    base = (NOW - timedelta(days=10)).replace(minute=0, second=0)
    minutely(alert, base, hours=4)  # every status, firings, durations and lags
    run(alert, 0)
    windows = [stats.Window(base + timedelta(hours=1), base + timedelta(hours=3)),
               stats.Window(base, base + timedelta(hours=4))]
    exact = [stats.alert_stats(alert, w, now=NOW) for w in windows]  # from the raw rows alone
    rollups.roll_up()
    before = [stats.alert_stats(alert, w, now=NOW).as_dict() for w in windows]

    pruned = retention.prune(now=NOW)

    assert pruned.executions > 100  # most of the four hours were plain OK runs
    assert not Execution.objects.filter(alert=alert, status=S.OK, state_before="OK", state_after="OK",
                                        scheduled_for__lt=base + timedelta(hours=4)).exists()
    after = [stats.alert_stats(alert, w, now=NOW) for w in windows]
    assert [a.as_dict() for a in after] == before
    for raw, rolled in zip(exact, after):
        same_figures(raw, rolled)
    assert stats.overall_stats(windows[1], now=NOW).runs == exact[1].runs


def test_a_late_run_beyond_the_raw_window_is_added_to_its_hour_without_losing_the_pruned_runs(alert):
    hour = (NOW - timedelta(days=10)).replace(minute=0, second=0)
    for m in range(3):
        Execution.objects.create(alert=alert, scheduled_for=hour + timedelta(minutes=m), trigger=Trigger.SCHEDULE,
                                 status=S.OK, started_at=hour, finished_at=hour, state_before="OK", state_after="OK")
    run(alert, 0)
    rolled_up_and_pruned()
    assert not Execution.objects.filter(alert=alert, scheduled_for__lt=hour + timedelta(hours=1)).exists()

    Execution.objects.create(alert=alert, scheduled_for=hour + timedelta(minutes=30), trigger=Trigger.SCHEDULE,
                             status=S.MISSED, started_at=timezone.now(), finished_at=timezone.now(),
                             reason="10 days late")
    rollups.roll_up()

    rollup = ExecutionRollup.objects.get(alert=alert, hour=hour)
    assert (rollup.runs_ok, rollup.runs_missed) == (3, 1)


def test_a_raw_window_as_long_as_the_retention_keeps_every_run_until_the_retention(alert):
    runs = [run(alert, days) for days in (89, 60, 30, 8, 1)]
    run(alert, 91)

    with override_settings(SENTINEL_RAW_HISTORY_DAYS=90):
        rolled_up_and_pruned()

    assert kept(alert) == {e.pk for e in runs}


def test_an_alerts_own_retention_bounds_its_raw_window(sqlite_db, make_datasource, make_alert):
    datasource = make_datasource(sqlite_db[0])
    short = make_alert(datasource, "SELECT 'OK' AS status", retention_days=3)
    year = make_alert(datasource, "SELECT 'OK' AS status", retention_days=365)
    short_runs = {days: run(short, days) for days in (5, 2, 0)}
    year_runs = {days: run(year, days, S.ALERT if days == 200 else S.OK) for days in (400, 200, 100, 5, 0)}

    rolled_up_and_pruned()

    assert kept(short) == {short_runs[2].pk, short_runs[0].pk}
    assert kept(year) == {year_runs[200].pk, year_runs[5].pk, year_runs[0].pk}


def daily(alert, days: int, firing_on=(26, 25)) -> None:
    """A run a day for `days` days, the newest a day and an hour ago: value = its age in days,
    ALERT (FIRING) on the `firing_on` days, the day after them the recovery (FIRING -> OK)."""
    last = NOW.replace(minute=0, second=0) - timedelta(hours=1)
    for age in range(days, 0, -1):
        tick = last - timedelta(days=age)
        Execution.objects.create(alert=alert, scheduled_for=tick, trigger=Trigger.SCHEDULE,
                                 status=S.ALERT if age in firing_on else S.OK, started_at=tick, finished_at=tick,
                                 actual_value=age, threshold=24,
                                 state_before=State.FIRING if age + 1 in firing_on else State.OK,
                                 state_after=State.FIRING if age in firing_on else State.OK)


def test_a_daily_alerts_page_draws_the_days_beyond_the_raw_window_from_its_hourly_rollups(admin_client, alert):
    daily(alert, 40)
    rolled_up_and_pruned()
    assert Execution.objects.filter(alert=alert).count() == 6 + 2 + 1  # the raw window, the firing, the recovery

    page = admin_client.get(reverse("admin:alerts_alert_change", args=[alert.pk])).content.decode()

    # Every day drawn once: the 6 runs of the raw window, the 34 days before it from their rollups,
    # each hour's value its run's (the kept ALERT runs are not drawn twice).
    assert "over the last 6 runs and the 34 hours before them" in page
    assert page.count('class="sn-range"') == 34
    for age in (40, 30, 26, 8):
        assert f"min {age}, max {age}</title>" in page


def test_a_daily_alerts_sparkline_keeps_its_ok_values_beyond_the_raw_window(admin_client, alert):
    daily(alert, 40)
    rolled_up_and_pruned()

    page = admin_client.get(reverse("admin:alerts_alert_changelist")).content.decode()

    assert 'aria-label="last 20 values"' in page
    from alerts.admin.display import recent_values
    assert recent_values([alert])[alert.pk] == list(range(20, 0, -1))  # the last 20 days, the OK ones too


def test_a_minutely_alerts_chart_draws_its_latest_200_runs_alone(alert):
    base = (NOW - timedelta(hours=5)).replace(minute=0, second=0)
    minutely(alert, base, hours=4)
    rolled_up_and_pruned()

    from alerts.admin.alerts import alert_page_context
    context = alert_page_context(alert)

    assert context["sn_chart_points"] == "200 runs"
