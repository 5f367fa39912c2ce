"""A datasource's spread (Datasource.spread_seconds): a tick's runs start across the window after
the tick, each alert at the same offset every tick, `scheduled_for` the exact tick, none MISSED
for the spread's sake; set from the admin, the API and files."""

from datetime import timedelta

import pytest
from django.utils import timezone

from alerts import dispatch, runner, spread
from alerts.config.export import datasource_item
from alerts.fanout import fire_schedule
from alerts.models import Datasource, Execution, ExecutionStatus, Trigger
from schedules.models import Schedule
from tests.factories import LEVEL_QUERY

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def sent(monkeypatch):
    """What the fan-out publishes: [(task name, args, countdown)], instead of running it."""
    out = []
    monkeypatch.setattr(dispatch, "_send", lambda name, calls, countdown=None: out.extend(
        (name, args, countdown) for args in calls))
    return out


def _offsets(sent, tick) -> dict[int, float]:
    """alert id -> seconds after the tick its batch was sent for."""
    return {pk: (countdown or 0) + (fired_at - tick).total_seconds()
            for _, (ids, _), countdown, fired_at in sent for pk in ids}


def test_a_spread_ticks_runs_start_across_the_window_at_stable_offsets(sqlite_db, make_datasource, make_alert,
                                                                       sent, settings):
    settings.SENTINEL_RUN_BATCH_SIZE = 50
    schedule = Schedule.objects.for_timing(cron="* * * * *")
    datasource = make_datasource(sqlite_db[0], spread_seconds=30)
    alerts = [make_alert(datasource, LEVEL_QUERY, schedule=schedule) for _ in range(120)]
    first = schedule.latest_tick(timezone.now()) - timedelta(minutes=10)
    offsets = []
    for tick in (first, first + timedelta(minutes=1)):
        fired_at = tick + timedelta(seconds=0.5)  # the fan-out half a second after the tick
        sent.clear()
        fire_schedule(schedule.pk, now=fired_at)
        assert {args[1] for _, args, _ in sent} == {tick.isoformat()}  # the exact tick travels
        offsets.append(_offsets([(n, a, c, fired_at) for n, a, c in sent], tick))

    assert sorted(offsets[0]) == sorted(a.pk for a in alerts)
    assert offsets[0] == offsets[1]  # each alert at the same offset every tick
    seconds = set(offsets[0].values())
    assert min(seconds) >= 0.5 and max(seconds) < 30  # inside the window
    assert len({int(s) for s in seconds}) >= 25  # across it, not in a lump
    assert all(len(ids) <= 50 for _, (ids, _), _ in sent)


def test_a_spread_never_reaches_past_half_the_schedules_period(sqlite_db, make_datasource, make_alert, sent):
    schedule = Schedule.objects.for_timing(interval_seconds=20)
    datasource = make_datasource(sqlite_db[0], spread_seconds=60)
    for _ in range(40):
        make_alert(datasource, LEVEL_QUERY, schedule=schedule)
    tick = schedule.latest_tick(timezone.now())

    fire_schedule(schedule.pk, now=tick)

    assert max(countdown or 0 for *_, countdown in sent) < 10


def test_without_a_spread_a_tick_is_sent_at_once(sqlite_db, make_datasource, make_alert, sent):
    schedule = Schedule.objects.for_timing(cron="* * * * *")
    datasource = make_datasource(sqlite_db[0])
    for _ in range(5):
        make_alert(datasource, LEVEL_QUERY, schedule=schedule)

    fire_schedule(schedule.pk, now=schedule.latest_tick(timezone.now()))

    assert [countdown for *_, countdown in sent] == [None]  # one batch, no countdown


def test_a_spread_alerts_grace_counts_from_its_place_in_the_window(sqlite_db, make_datasource, make_alert,
                                                                   monkeypatch):
    schedule = Schedule.objects.for_timing(cron="* * * * *")
    spread_source = make_datasource(sqlite_db[0], name="spread", spread_seconds=30)
    plain_source = make_datasource(sqlite_db[0], name="plain")
    grace = timedelta(seconds=5)
    # An alert whose place in the window is late in it, so that its start is past the grace from the tick.
    spread_alert = next(a for a in (make_alert(spread_source, LEVEL_QUERY, schedule=schedule, grace=grace)
                                    for _ in range(60)) if spread.offset_seconds(a.pk, 30) >= 20)
    plain_alert = make_alert(plain_source, LEVEL_QUERY, schedule=schedule, grace=grace)
    tick = schedule.latest_tick(timezone.now()) - timedelta(minutes=5)
    offset = spread.offset_seconds(spread_alert.pk, 30)
    at = tick + timedelta(seconds=offset + 2)  # two seconds after its place in the window
    monkeypatch.setattr(timezone, "now", lambda: at)

    ran = runner.run(spread_alert, tick, Trigger.SCHEDULE)
    missed = runner.run(plain_alert, tick, Trigger.SCHEDULE)

    assert (ran.status, ran.scheduled_for) == (ExecutionStatus.OK, tick)
    # Fire lag is still measured from the tick: its place in the window, and the 2 s.
    assert (ran.started_at - ran.scheduled_for).total_seconds() == offset + 2
    assert missed.status == ExecutionStatus.MISSED  # the same start without a spread is late
    assert not Execution.objects.filter(alert=spread_alert, status=ExecutionStatus.MISSED).exists()


def test_cap_and_spread_are_set_from_a_file_and_exported_back(tmp_path, sqlite_db):
    from tests.factories import sentinel

    source = tmp_path / "alerts.yaml"
    source.write_text(
        f"datasources:\n  - name: shop\n    url: {sqlite_db[0]}\n    max_concurrent_queries: 4\n    spread: 30s\n"
        "alerts:\n  - name: stock\n    datasource: shop\n    schedule: every minute\n"
        "    query: SELECT 'OK' AS status\n"
    )
    code, out = sentinel("apply", str(source))
    assert code == 0, out
    shop = Datasource.objects.get(name="shop")
    assert (shop.max_concurrent_queries, shop.spread_seconds) == (4, 30)
    item = datasource_item(shop)
    assert (item["max_concurrent_queries"], item["spread"]) == (4, "30s")

    source.write_text(source.read_text().replace("max_concurrent_queries: 4", "max_concurrent_queries: 2"))
    code, out = sentinel("apply", "--dry-run", str(source))
    assert "max_concurrent_queries" in out, out


def test_a_cap_below_one_or_a_fractional_spread_is_refused_in_a_file(tmp_path, sqlite_db):
    from tests.factories import sentinel

    source = tmp_path / "alerts.yaml"
    source.write_text(f"datasources:\n  - name: shop\n    url: {sqlite_db[0]}\n    max_concurrent_queries: 0\n"
                      "    spread: 2.5s\n")
    code, out = sentinel("validate", str(source))
    assert code != 0
    assert "max_concurrent_queries: Must be at least 1." in out, out
    assert "spread: Must be whole seconds" in out, out
