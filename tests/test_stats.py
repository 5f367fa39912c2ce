"""Job statistics (runs, rates, durations, fire lag, last success and failure, time firing)
match a hand count, and the API, the CLI and the alert's admin page show the same figures.
Runs on the test PostgreSQL database, and on SQLite when the suite runs without one."""

import json
from datetime import timedelta

import pytest
from django.core.management.base import CommandError
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from django.utils.html import escape

from alerts import stats
from alerts.api.serializers import StatsSerializer
from alerts.models import Execution, ExecutionStatus as S, State, Trigger
from tests.admin_helpers import level_alert, role_user  # noqa: F401  (fixtures)
from tests.api_helpers import token_client
from tests.factories import sentinel

pytestmark = pytest.mark.django_db

F, OK, ND, ER = State.FIRING, State.OK, State.NO_DATA, State.ERROR
# minute after base, status, duration ms, fire lag s, trigger, state before, state after, error
HISTORY = [
    (0, S.OK, 10, 1.0, Trigger.SCHEDULE, OK, OK, ""),
    (5, S.ALERT, 20, 2.0, Trigger.SCHEDULE, OK, F, ""),  # starts firing
    (10, S.ALERT, 30, 1.5, Trigger.SCHEDULE, F, F, ""),
    (15, S.NO_DATA, 40, 0.5, Trigger.SCHEDULE, F, ND, ""),  # stops: 10 min firing
    (20, S.ERROR, 50, 3.0, Trigger.SCHEDULE, ND, ER, 'relation "orders" does not exist'),
    (25, S.TIMEOUT, 60, 4.0, Trigger.SCHEDULE, ER, ER, "Timed out after 5 s"),
    (30, S.SKIPPED, 0.5, 0.0, Trigger.SCHEDULE, "", "", ""),
    (35, S.MISSED, 0.25, 90.0, Trigger.SCHEDULE, "", "", ""),
    (40, S.OK, 70, 30.0, Trigger.MANUAL, ER, OK, ""),  # manual: its "lag" is not a fire lag
    (45, S.ALERT, 80, 2.5, Trigger.SCHEDULE, OK, F, ""),  # firing again, still at the window's end
    (50, S.RUNNING, None, 1.0, Trigger.SCHEDULE, "", "", ""),
    (65, S.ERROR, 5, 1.0, Trigger.SCHEDULE, F, ER, "after the window"),
    (-5, S.ERROR, 5, 1.0, Trigger.SCHEDULE, OK, OK, "before the window"),
]


def add(alert, base, rows):
    made = []
    for minute, status, ms, lag, trigger, before, after, error in rows:
        tick = base + timedelta(minutes=minute)
        made.append(Execution.objects.create(
            alert=alert, scheduled_for=tick, trigger=trigger, status=status, duration_ms=ms,
            started_at=tick + timedelta(seconds=lag), finished_at=None if ms is None else tick + timedelta(seconds=lag),
            state_before=before, state_after=after, error=error))
    return made


@pytest.fixture
def base():
    return (timezone.now() - timedelta(hours=3)).replace(second=0, microsecond=0)


@pytest.fixture
def history(level_alert, base):
    return add(level_alert, base, HISTORY)


def hour(base, start=0, end=60):
    return stats.Window(base + timedelta(minutes=start), base + timedelta(minutes=end))


def test_the_figures_of_one_alert_match_a_hand_count(level_alert, history, base):
    figures = stats.alert_stats(level_alert, hour(base))

    assert figures.runs == 10 and figures.running == 1
    assert figures.counts == {"OK": 2, "ALERT": 3, "NO_DATA": 1, "ERROR": 1, "TIMEOUT": 1, "SKIPPED": 1, "MISSED": 1}
    assert figures.success_rate == 0.6  # OK, ALERT, NO_DATA: 6 of 10; SKIPPED and MISSED count against
    assert figures.error_rate == 0.2  # ERROR, TIMEOUT
    # The 8 runs that queried: 10, 20, ... 80 ms; p95 = percentile_cont: 70 + 0.65 * (80 - 70).
    assert (figures.duration_min_ms, figures.duration_avg_ms, figures.duration_p95_ms,
            figures.duration_max_ms) == (10, 45, 76.5, 80)
    # 9 finished scheduled runs: 0, 0.5, 1, 1.5, 2, 2.5, 3, 4, 90 s; p95 at 7.6: 4 + 0.6 * 86.
    assert figures.fire_lag_p95_ms == 55600.0
    assert (figures.last_success.at, figures.last_success.status, figures.last_success.execution_id) == (
        history[9].scheduled_for, "ALERT", history[9].pk)
    assert (figures.last_failure.at, figures.last_failure.status, figures.last_failure.error) == (
        history[5].scheduled_for, "TIMEOUT", "Timed out after 5 s")
    assert figures.firing_seconds == 10 * 60 + 15 * 60  # 5..15, and 45 to the window's end


def test_a_firing_open_at_both_edges_of_the_window_is_clipped_to_it(level_alert, history, base):
    figures = stats.alert_stats(level_alert, hour(base, 10, 50))

    assert figures.firing_seconds == 5 * 60 + 5 * 60  # 10..15 and 45..50
    assert figures.runs == 8


def test_firing_throughout_a_window_without_a_change_counts_the_whole_window(level_alert, history, base):
    assert stats.alert_stats(level_alert, hour(base, 8, 12)).firing_seconds == 4 * 60


def test_a_firing_still_open_counts_until_now_not_the_window_end(level_alert, history, base):
    now = base + timedelta(minutes=55)

    assert stats.alert_stats(level_alert, hour(base), now=now).firing_seconds == 10 * 60 + 10 * 60


def test_a_window_without_runs_has_no_rates_and_no_durations(level_alert, history, base):
    figures = stats.alert_stats(level_alert, hour(base, -120, -60))

    assert figures.runs == 0 and figures.success_rate is None and figures.error_rate is None
    assert figures.duration_p95_ms is None and figures.fire_lag_p95_ms is None
    assert figures.last_success is None and figures.last_failure is None and figures.firing_seconds == 0


def test_runs_that_all_started_on_the_tick_have_a_fire_lag_of_zero_not_an_error(level_alert, base, admin_client):
    add(level_alert, base, [(m, S.OK, 10, 0.0, Trigger.SCHEDULE, OK, OK, "") for m in (0, 1, 2)])

    figures = stats.alert_stats(level_alert, hour(base))

    assert figures.runs == 3 and figures.fire_lag_p95_ms == 0
    page = admin_client.get(reverse("admin:alerts_alert_change", args=[level_alert.pk]))
    assert page.status_code == 200


def test_overall_figures_add_every_alert_up(level_alert, history, base, make_alert):
    other = make_alert(level_alert.datasource, "SELECT 'OK' AS status", name="other")
    add(other, base, [(0, S.ALERT, 100, 1.0, Trigger.SCHEDULE, OK, F, ""),
                      (30, S.OK, 200, 1.0, Trigger.SCHEDULE, F, OK, "")])

    figures = stats.overall_stats(hour(base))

    assert figures.alert is None and figures.runs == 12
    assert figures.counts == {"OK": 3, "ALERT": 4, "NO_DATA": 1, "ERROR": 1, "TIMEOUT": 1, "SKIPPED": 1, "MISSED": 1}
    assert (figures.success_rate, figures.error_rate) == (round(8 / 12, 6), round(2 / 12, 6))
    # 10 ... 80, 100, 200 ms: p95 at 8.55 is 100 + 0.55 * 100.
    assert (figures.duration_min_ms, figures.duration_avg_ms, figures.duration_p95_ms,
            figures.duration_max_ms) == (10, 66, 155, 200)
    assert figures.fire_lag_p95_ms == 47000.0  # 11 lags; p95 at 9.5: 4 + 0.5 * 86
    assert figures.last_success.alert == "disk-full" and figures.last_failure.status == "TIMEOUT"
    assert figures.firing_seconds == 25 * 60 + 30 * 60  # alert-seconds: each alert's firing added


def test_the_window_is_read_from_the_one_duration_syntax():
    now = timezone.now()

    assert stats.window("7d", now=now) == stats.Window(now - timedelta(days=7), now)
    assert stats.window(now=now).start == now - timedelta(hours=24)
    with pytest.raises(stats.WindowError, match="since: Cannot read duration 'a week'"):
        stats.window("a week")
    with pytest.raises(stats.WindowError, match="must end after it starts"):
        stats.window(start=now, end=now - timedelta(hours=1))


# --- the faces: the API, the CLI and the alert's page say the same


@pytest.fixture
def closed_history(level_alert, history, base):
    """The history with its last firing ended, so no figure moves with the clock between two calls."""
    add(level_alert, base, [(55, S.OK, 90, 1.0, Trigger.SCHEDULE, F, OK, "")])
    Execution.objects.filter(pk=history[11].pk).update(state_before=OK)  # the run after it starts from OK
    return history


def test_api_and_cli_json_give_the_same_figures(level_alert, closed_history, base, role_user):
    w = hour(base)
    expected = json.loads(json.dumps(StatsSerializer(stats.alert_stats(level_alert, w).as_dict()).data))
    window = {"start": w.start.isoformat(), "end": w.end.isoformat()}

    api = token_client(role_user("viewer"))
    answer = api.get("/api/alerts/disk-full/stats", window)
    overall = api.get("/api/stats", window)
    code, printed = sentinel("stats", "disk-full", "--start", window["start"], "--end", window["end"], "--json")

    assert answer.status_code == 200 and answer.json() == expected
    assert code == 0 and json.loads(printed) == expected
    assert expected["runs"] == 11 and expected["firing_seconds"] == 20 * 60  # 5..15, 45..55
    assert overall.status_code == 200 and overall.json()["alert"] is None and overall.json()["runs"] == 11


def test_the_alert_page_and_the_cli_print_the_same_lines_to_a_viewer(level_alert, closed_history, role_user):
    viewer = Client()
    viewer.force_login(role_user("viewer"))

    page = viewer.get(reverse("admin:alerts_alert_change", args=[level_alert.pk])).content.decode()
    code, printed = sentinel("stats", "disk-full", "--since", "24h")

    day = stats.lines(stats.alert_stats(level_alert, stats.window("24h")))
    assert 'id="sn-stats"' in page and "Statistics (last 24 h / 7 d)" in page
    assert code == 0
    for label, text in day:
        assert escape(text) in page, label
        assert any(line.split() == [*label.split(), *text.split()] for line in printed.splitlines()), label
    # The last 24 h hold all 13 finished runs: 7 answered (the hour's 6 and the one that closed the firing).
    assert ("success rate", "53.8%") in day and ("time firing", "20m") in day
    assert 'Timed out after 5 s' in page


@pytest.mark.parametrize("path", ["/api/alerts/disk-full/stats", "/api/stats"])
def test_a_token_without_view_permission_gets_403(level_alert, role_user, path):
    from django.contrib.auth.models import Permission

    nobody = role_user("token-only")
    alerts_only = role_user("editor")
    alerts_only.groups.clear()
    alerts_only.user_permissions.add(Permission.objects.get(codename="view_alert"))

    assert token_client(nobody).get(path).status_code == 403
    assert token_client(alerts_only).get(path).status_code == 403  # statistics are executions: view_execution too
    assert token_client(None).get(path).status_code == 401


def test_an_unreadable_window_is_a_400_naming_it_and_a_usage_error_in_the_cli(level_alert, role_user):
    api = token_client(role_user("viewer"))

    bad = api.get("/api/stats", {"since": "forever"})
    backwards = api.get("/api/alerts/disk-full/stats", {"start": "2026-01-02T00:00:00Z", "end": "2026-01-01T00:00:00Z"})

    assert bad.status_code == 400 and "Cannot read duration 'forever'" in bad.json()["since"][0]
    assert backwards.status_code == 400 and "must end after it starts" in backwards.json()["non_field_errors"][0]
    with pytest.raises(CommandError, match="--since: Cannot read duration"):
        sentinel("stats", "--since", "forever")
    with pytest.raises(CommandError, match="--start: cannot read 'yesterday'"):
        sentinel("stats", "disk-full", "--start", "yesterday")
