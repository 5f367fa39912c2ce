"""Statistics read from the hourly rollups say what the raw executions say: the same runs, counts,
rates, durations, last runs and time firing over any window (hour-aligned or not, per alert and
overall), and a p95 within half a bucket (docs/api.md, "Statistics"); a run recorded after its
hour was rolled up is still counted, and two passes at once roll up once.
Runs on the test PostgreSQL database, and on SQLite when the suite runs without one."""

import random
from datetime import timedelta
from importlib import import_module

import pytest
from django.apps import apps
from django.utils import timezone
from django_celery_beat.models import PeriodicTask

from alerts import histograms, retention, rollups, stats
from alerts.models import (
    Execution, ExecutionRollup, ExecutionStatus as S, OverallRollup, RollupProgress, State, Trigger,
)
from tests.admin_helpers import level_alert  # noqa: F401  (fixture)

pytestmark = pytest.mark.django_db

# Half a bucket of 2^(1/8): what docs/api.md promises for a p95 read from histograms.
BOUND = (2 ** (1 / 8) - 1) / 2  # 4.53 %
STATUSES = [S.OK] * 12 + [S.ALERT] * 3 + [S.NO_DATA, S.ERROR, S.TIMEOUT, S.SKIPPED, S.MISSED]


@pytest.fixture
def base():
    """Six hours ago, on the hour: the history's hours have all settled."""
    return (timezone.now() - timedelta(hours=6)).replace(minute=0, second=0, microsecond=0)


def record(alert, tick, status, *, duration=10.0, lag=1.0, trigger=Trigger.SCHEDULE, before="", after="",
           value=None, error="", finished=None):
    """One finished execution; `finished`: when it was recorded (default: just after its run)."""
    started = tick + timedelta(seconds=lag)
    return Execution.objects.create(
        alert=alert, scheduled_for=tick, trigger=trigger, status=status, duration_ms=duration,
        started_at=started, finished_at=finished or started + timedelta(milliseconds=duration), state_before=before,
        state_after=after, actual_value=value, error=error)


def minutely(alert, base, hours=5, seed=7):
    """A run a minute for `hours`: every status, durations from 1 ms to 2 s, lags from 0 to 20 s,
    a firing every 40 minutes (some across an hour's end), a manual run now and then."""
    pick = random.Random(seed)
    state = State.OK
    for minute in range(hours * 60):
        tick = base + timedelta(minutes=minute)
        status = pick.choice(STATUSES)
        after = State.FIRING if minute % 40 >= 25 else State.OK
        if status in (S.SKIPPED, S.MISSED):
            before_, after_ = "", ""
        else:
            before_, after_, state = state, after, after
        trigger = Trigger.MANUAL if minute % 17 == 0 else Trigger.SCHEDULE
        record(alert, tick, status, duration=round(pick.lognormvariate(4, 1.2), 3),
               lag=pick.choice([0.0, 0.0, pick.uniform(0, 20)]), trigger=trigger, before=before_, after=after_,
               value=pick.choice([pick.randint(0, 100), pick.random() * 50, None, "n/a"]),
               error="boom" if status in (S.ERROR, S.TIMEOUT) else "")


def same_figures(raw: stats.Stats, rolled: stats.Stats) -> None:
    a, b = raw.as_dict(), rolled.as_dict()
    for name in ("duration_avg_ms", "duration_p95_ms", "fire_lag_p95_ms", "firing_seconds"):
        a.pop(name), b.pop(name)
    assert a == b
    assert rolled.duration_avg_ms == pytest.approx(raw.duration_avg_ms, abs=0.001)
    assert rolled.firing_seconds == pytest.approx(raw.firing_seconds, abs=0.001)
    for name in ("duration_p95_ms", "fire_lag_p95_ms"):
        exact, read = getattr(raw, name), getattr(rolled, name)
        assert (exact is None) == (read is None), name
        if exact is not None:
            assert abs(read - exact) <= BOUND * exact + 0.05, (name, exact, read)


WINDOWS = {  # minutes after base: (start, end)
    "hour-aligned": (60, 240),
    "not aligned": (37, 271),
    "edges inside one hour each": (59, 121),
    "the whole history and beyond": (-90, 400),
    "inside one hour": (70, 110),
}


@pytest.mark.parametrize("span", WINDOWS.values(), ids=WINDOWS.keys())
def test_a_windows_figures_are_the_same_with_rollups_as_from_raw_rows(level_alert, make_alert, base, span):
    other = make_alert(level_alert.datasource, "SELECT 'OK' AS status", name="other")
    minutely(level_alert, base)
    minutely(other, base, seed=11)
    w = stats.Window(base + timedelta(minutes=span[0]), base + timedelta(minutes=span[1]))
    raw_one, raw_all = stats.alert_stats(level_alert, w), stats.overall_stats(w)

    assert rollups.roll_up().finished

    assert RollupProgress.objects.get().rolled_until == stats.floor_hour(timezone.now() - rollups.SETTLE)
    if span != WINDOWS["inside one hour"]:
        assert stats.rolled_hours(w) is not None
    same_figures(raw_one, stats.alert_stats(level_alert, w))
    same_figures(raw_all, stats.overall_stats(w))
    assert raw_one.runs > 0 and raw_one.last_failure is not None and raw_all.firing_seconds > 0


def test_the_hourly_rows_say_what_the_hour_held(level_alert, base):
    hour = base + timedelta(hours=1)
    record(level_alert, hour + timedelta(minutes=1), S.OK, duration=10, lag=0.5, before=State.OK,
           after=State.OK, value=3)
    record(level_alert, hour + timedelta(minutes=2), S.ALERT, duration=30, lag=1.5, before=State.OK,
           after=State.FIRING, value=9.5)
    record(level_alert, hour + timedelta(minutes=3), S.ERROR, duration=20, lag=2.5, before=State.FIRING,
           after=State.ERROR, error='relation "orders" does not exist')
    last = record(level_alert, hour + timedelta(minutes=4), S.MISSED, duration=0.5, lag=90)

    rollups.roll_up()

    row = ExecutionRollup.objects.get(alert=level_alert, hour=hour)
    assert (row.runs_ok, row.runs_alert, row.runs_error, row.runs_missed) == (1, 1, 1, 1)
    assert (row.duration_n, row.duration_sum, row.duration_min, row.duration_max) == (3, 60, 10, 30)
    assert row.lag_n == 4  # ms; SQLite reads times to 0.04 ms
    assert (row.lag_min, row.lag_max) == (pytest.approx(500, abs=0.1), pytest.approx(90_000, abs=0.1))
    assert (row.value_n, row.value_min, row.value_max, row.value_last) == (2, 3, 9.5, 9.5)
    assert (row.firing_in_n, row.firing_out_n) == (1, 1)  # and their seconds after the hour
    assert (row.firing_in_sum, row.firing_out_sum) == (pytest.approx(120, abs=1e-3), pytest.approx(180, abs=1e-3))
    assert (row.last_failure_status, row.last_failure_error) == ("ERROR", 'relation "orders" does not exist')
    assert row.last_success_at == hour + timedelta(minutes=2) and row.last_success_status == "ALERT"
    assert sum(histograms.add([row.lag_histogram], 4)) == 4 and last.pk not in (row.last_success_id, None)


def test_a_run_recorded_after_its_hour_was_rolled_up_is_counted(level_alert, base):
    minutely(level_alert, base, hours=3)
    rollups.roll_up()
    w = stats.Window(base, base + timedelta(hours=3))
    before = stats.alert_stats(level_alert, w)
    # A tick of the second hour, claimed late (a broker backlog) and recorded now as MISSED.
    Execution.objects.filter(alert=level_alert, scheduled_for=base + timedelta(minutes=90)).delete()
    late = record(level_alert, base + timedelta(minutes=90), S.MISSED, lag=4000, finished=timezone.now())

    assert stats.alert_stats(level_alert, w).counts == before.counts  # the hour's rollup is older than it
    rollups.roll_up()

    after = stats.alert_stats(level_alert, w)
    assert after.counts["MISSED"] == sum(1 for _ in Execution.objects.filter(
        alert=level_alert, status=S.MISSED, scheduled_for__lt=w.end))
    assert after.runs == Execution.objects.filter(alert=level_alert).exclude(status=S.RUNNING).count()
    assert late.scheduled_for < RollupProgress.objects.get().rolled_until
    RollupProgress.objects.update(rolled_until=None)  # the same figures from raw rows alone
    same_figures(stats.alert_stats(level_alert, w), after)


def test_a_run_that_was_still_running_when_its_hour_was_rolled_up_counts_once_finished(level_alert, base):
    tick = base + timedelta(minutes=30)
    running = Execution.objects.create(alert=level_alert, scheduled_for=tick, trigger=Trigger.SCHEDULE,
                                       status=S.RUNNING, started_at=tick)
    w = stats.Window(base, base + timedelta(hours=1))
    rollups.roll_up()
    assert stats.alert_stats(level_alert, w).running == 1

    Execution.objects.filter(pk=running.pk).update(status=S.ERROR, finished_at=timezone.now(), duration_ms=5,
                                                   error="Abandoned: its worker stopped mid-run")
    rollups.roll_up()

    figures = stats.alert_stats(level_alert, w)
    assert (figures.running, figures.counts["ERROR"]) == (0, 1)
    assert figures.last_failure.error == "Abandoned: its worker stopped mid-run"


def test_a_late_run_in_an_hour_whose_raw_runs_were_pruned_is_added_to_its_rollup(level_alert, base):
    level_alert.retention_days = 1
    level_alert.save(update_fields=["retention_days"])
    old = base - timedelta(days=3)
    minutely(level_alert, old, hours=2)
    record(level_alert, base, S.OK)  # the alert's latest run, which retention always keeps
    w = stats.Window(old, old + timedelta(hours=2))
    raw = stats.alert_stats(level_alert, w)
    rollups.roll_up()
    retention.prune()
    assert not Execution.objects.filter(alert=level_alert, scheduled_for__lt=w.end).exists()

    Execution.objects.create(alert=level_alert, scheduled_for=old + timedelta(minutes=30, seconds=30),
                             trigger=Trigger.SCHEDULE, status=S.MISSED, started_at=timezone.now(),
                             finished_at=timezone.now(), duration_ms=0.1, reason="3 days late")
    rollups.roll_up()

    figures = stats.alert_stats(level_alert, w)
    assert figures.runs == raw.runs + 1 and figures.counts["MISSED"] == raw.counts["MISSED"] + 1
    assert figures.counts["OK"] == raw.counts["OK"] and figures.last_failure == raw.last_failure
    rollups.roll_up()  # looked at again within the overlap: not added twice
    assert stats.alert_stats(level_alert, w).runs == raw.runs + 1


def test_rolling_an_hour_again_gives_the_same_row(level_alert, base):
    minutely(level_alert, base, hours=2)
    rollups.roll_up()
    fields = [f.name for f in ExecutionRollup._meta.concrete_fields if f.name not in ("id", "rolled_at")]
    first = list(ExecutionRollup.objects.order_by("hour").values(*fields))

    rollups.save(rollups.roll_hours(base, base + timedelta(hours=2)))

    assert list(ExecutionRollup.objects.order_by("hour").values(*fields)) == first


def test_a_second_pass_while_one_holds_the_claim_does_nothing(level_alert, base):
    minutely(level_alert, base, hours=1)
    RollupProgress.objects.create(pk=1, lease_expires_at=timezone.now() + timedelta(minutes=5))

    busy = rollups.roll_up()

    assert not busy.claimed and not ExecutionRollup.objects.exists()
    RollupProgress.objects.update(lease_expires_at=timezone.now() - timedelta(seconds=1))  # its worker died
    assert rollups.roll_up().claimed and ExecutionRollup.objects.count() == 1


def test_a_p95_from_histograms_stays_within_half_a_bucket_over_many_values(level_alert, base):
    pick = random.Random(3)
    for minute in range(300):
        record(level_alert, base + timedelta(minutes=minute), S.OK, duration=pick.uniform(0.05, 5000),
               lag=pick.expovariate(1))
    w = stats.Window(base + timedelta(minutes=5), base + timedelta(minutes=295))
    exact = stats.alert_stats(level_alert, w)
    rollups.roll_up()

    read = stats.alert_stats(level_alert, w)

    assert abs(read.duration_p95_ms - exact.duration_p95_ms) <= BOUND * exact.duration_p95_ms
    assert abs(read.fire_lag_p95_ms - exact.fire_lag_p95_ms) <= BOUND * exact.fire_lag_p95_ms + 0.05


def test_the_roll_up_is_registered_with_beat_every_five_minutes_and_its_task_rolls_up(level_alert, base):
    from alerts.tasks import roll_up_history

    migration = import_module("alerts.migrations.0011_roll_up_history_periodic_task")
    PeriodicTask.objects.filter(name=migration.NAME).delete()
    migration.register(apps, None)
    migration.register(apps, None)
    task = PeriodicTask.objects.get(name=migration.NAME)
    assert task.task == "alerts.roll_up_history" and task.enabled and task.crontab.minute == "2-59/5"

    record(level_alert, base, S.OK)
    roll_up_history.delay()  # eager in tests: runs here

    assert ExecutionRollup.objects.get(alert=level_alert).runs_ok == 1


# --- the overall tier: every alert's hour in one row, the same figures as the per-alert rows added up


def per_alert_overall(w):
    """overall_stats() read from the per-alert rollups alone (the overall tier hidden)."""
    progress = RollupProgress.objects.get()
    held = progress.overall_from
    RollupProgress.objects.update(overall_from=progress.rolled_until + timedelta(days=1))
    try:
        return stats.overall_stats(w)
    finally:
        RollupProgress.objects.update(overall_from=held)


def same_overall(expected: stats.Stats, read: stats.Stats) -> None:
    """Counts, extremes, p95s (histograms add up exactly) and last runs equal; averages up to float rounding."""
    a, b = expected.as_dict(), read.as_dict()
    assert b.pop("duration_avg_ms") == pytest.approx(a.pop("duration_avg_ms"), abs=0.001)
    assert a == b


@pytest.mark.parametrize("span", WINDOWS.values(), ids=WINDOWS.keys())
def test_the_overall_figures_from_the_overall_tier_are_the_per_alert_rollups_added_up(
        level_alert, make_alert, base, span):
    other = make_alert(level_alert.datasource, "SELECT 'OK' AS status", name="other")
    minutely(level_alert, base)
    minutely(other, base, seed=11)
    # Both alerts run on the same ticks: of several last runs on one tick, the last recorded wins.
    w = stats.Window(base + timedelta(minutes=span[0]), base + timedelta(minutes=span[1]))
    raw = stats.overall_stats(w)

    assert rollups.roll_up().finished

    assert OverallRollup.objects.count() == 5 and RollupProgress.objects.get().overall_from is None
    hour = OverallRollup.objects.order_by("hour")[1]
    assert hour.runs_ok == sum(ExecutionRollup.objects.filter(hour=hour.hour).values_list("runs_ok", flat=True))
    read = stats.overall_stats(w)
    same_overall(per_alert_overall(w), read)
    same_figures(raw, read)
    assert read.firing_seconds > 0 and read.last_success.alert in ("other", level_alert.name)


def test_an_hour_rolled_again_for_a_late_run_is_rolled_again_in_the_overall_tier(level_alert, make_alert, base):
    other = make_alert(level_alert.datasource, "SELECT 'OK' AS status", name="other")
    minutely(level_alert, base, hours=3)
    minutely(other, base, hours=3, seed=11)
    rollups.roll_up()
    w = stats.Window(base, base + timedelta(hours=3))
    Execution.objects.filter(alert=other, scheduled_for=base + timedelta(minutes=179)).delete()
    record(other, base + timedelta(minutes=179), S.TIMEOUT, duration=9_000, finished=timezone.now(), error="late")

    rollups.roll_up()

    read = stats.overall_stats(w)
    assert read.last_failure.error == "late" and read.duration_max_ms == 9_000
    same_overall(per_alert_overall(w), read)


def test_hours_rolled_up_before_the_overall_tier_are_filled_in_newest_first(level_alert, make_alert, base):
    other = make_alert(level_alert.datasource, "SELECT 'OK' AS status", name="other")
    minutely(level_alert, base - timedelta(days=2), hours=2)  # a stretch without runs between
    minutely(level_alert, base)
    minutely(other, base, seed=11)
    rollups.roll_up()
    w = stats.Window(base - timedelta(days=3), base + timedelta(hours=5))
    expected = stats.overall_stats(w)
    # As the migration leaves a deployment that rolled up before the tier existed.
    OverallRollup.objects.all().delete()
    RollupProgress.objects.update(overall_from=RollupProgress.objects.get().rolled_until)
    same_overall(expected, stats.overall_stats(w))  # read from the per-alert rows meanwhile

    assert not rollups.fill_overall(deadline=0)  # no time: nothing made, the next pass carries on
    assert rollups.fill_overall(deadline=float("inf"), batch_hours=3)

    assert RollupProgress.objects.get().overall_from is None
    assert OverallRollup.objects.count() == len(set(ExecutionRollup.objects.values_list("hour", flat=True))) == 7
    same_overall(expected, stats.overall_stats(w))


def test_a_deleted_alerts_runs_leave_the_overall_figures_at_once(level_alert, make_alert, base):
    other = make_alert(level_alert.datasource, "SELECT 'OK' AS status", name="other")
    minutely(level_alert, base, hours=3)
    minutely(other, base + timedelta(hours=2), hours=3, seed=11)  # alone in the last two hours
    rollups.roll_up()
    w = stats.Window(base, base + timedelta(hours=6))
    before = stats.overall_stats(w)

    other.delete()

    assert OverallRollup.objects.filter(stale=True).count() == 3
    after = stats.overall_stats(w)
    assert after.runs < before.runs
    same_overall(per_alert_overall(w), after)
    rollups.roll_up()  # makes the stale hours again: the hours only `other` ran in are gone
    assert not OverallRollup.objects.filter(stale=True).exists() and OverallRollup.objects.count() == 3
    same_overall(after, stats.overall_stats(w))


def test_the_overall_tier_expires_with_the_rollups(level_alert, base, settings):
    record(level_alert, base, S.OK)
    record(level_alert, base - timedelta(days=500), S.OK)
    rollups.roll_up()
    assert OverallRollup.objects.count() == 2

    retention.prune()

    assert list(OverallRollup.objects.values_list("hour", flat=True)) == [base]


def test_the_overall_time_firing_counts_alerts_firing_as_the_window_starts_and_all_along(
        level_alert, make_alert, base):
    """The overall tier's time firing needs to know which alerts were firing as the window starts:
    one fires before it and recovers inside, one fires all along, one starts firing inside."""
    along = make_alert(level_alert.datasource, "SELECT 'OK' AS status", name="along")
    late = make_alert(level_alert.datasource, "SELECT 'OK' AS status", name="late")
    for minute in range(300):
        tick = base + timedelta(minutes=minute)
        recovered = minute >= 150
        record(level_alert, tick, S.OK if recovered else S.ALERT, before=State.OK if minute > 150 else State.FIRING,
               after=State.OK if recovered else State.FIRING)
        record(along, tick, S.ALERT, before=State.FIRING, after=State.FIRING)
        record(late, tick, S.ALERT if minute >= 200 else S.OK, before=State.FIRING if minute > 200 else State.OK,
               after=State.FIRING if minute >= 200 else State.OK)
    w = stats.Window(base + timedelta(minutes=20), base + timedelta(minutes=290))
    raw = stats.overall_stats(w)

    rollups.roll_up()

    read = stats.overall_stats(w)
    assert raw.firing_seconds == (130 + 270 + 90) * 60
    assert read.firing_seconds == pytest.approx(raw.firing_seconds, abs=0.001)
    assert per_alert_overall(w).firing_seconds == pytest.approx(raw.firing_seconds, abs=0.001)
