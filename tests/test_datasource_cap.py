"""A datasource's cap on concurrent queries (Datasource.max_concurrent_queries): never above it
across workers, a dead worker's slot back after its lease, every alert of a capped datasource
still run once per tick, and nothing extra to pay without a cap."""

import queue
import threading
import time
import uuid
from datetime import timedelta

import pytest
from django.db import connection, connections
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from alerts import datasource_slots, runner
from alerts.fanout import timed_batches
from alerts.models import Datasource, DatasourceSlot, Execution, ExecutionStatus, Trigger
from schedules.models import Schedule
from tests.admin_helpers import staff_client  # noqa: F401  (fixture)
from tests.api_helpers import api, admin_token  # noqa: F401  (fixtures)
from tests.factories import LEVEL_QUERY

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.needs_postgres]


@pytest.fixture
def probe(pg_datasource_url):
    """A PostgreSQL datasource URL whose connections carry their own application_name, and a query
    that answers how many of those connections are inside a query right now (itself included),
    after sleeping `seconds` so that concurrent runs overlap."""
    name = f"cap_{uuid.uuid4().hex[:10]}"

    def query(seconds: float) -> str:
        return (f"SELECT 'OK' AS status, (SELECT count(*) FROM pg_stat_activity WHERE application_name = '{name}' "
                f"AND state <> 'idle') AS actual_value FROM pg_sleep({seconds})")

    return f"{pg_datasource_url}?application_name={name}", query


@pytest.fixture
def minute_schedule(db):
    return Schedule.objects.for_timing(cron="* * * * *")


def _in_threads(target, items, threads: int):
    """Run target(item) for every item from `threads` threads, each with its own database connection."""
    work = queue.Queue()
    for item in items:
        work.put(item)
    errors = []

    def worker():
        try:
            while True:
                try:
                    item = work.get_nowait()
                except queue.Empty:
                    return
                for more in target(item) or ():
                    work.put(more)
        except Exception as exc:  # surfaced in the test, not lost in a thread
            errors.append(exc)
        finally:
            connections.close_all()

    pool = [threading.Thread(target=worker) for _ in range(threads)]
    for t in pool:
        t.start()
    for t in pool:
        t.join(120)
    assert not errors, errors


def test_the_cap_is_never_exceeded_across_concurrent_workers(probe, make_datasource, make_alert, minute_schedule):
    url, query = probe
    datasource = make_datasource(url, max_concurrent_queries=3)
    alerts = [make_alert(datasource, query(0.15), schedule=minute_schedule, grace=timedelta(days=1))
              for _ in range(24)]
    tick = timezone.now()

    handed_back = []

    def worker(ids):
        handed_back.extend(runner.run_many_by_id(ids, tick, Trigger.SCHEDULE).waiting)

    # Eight workers at once, each with a batch of three 0.15 s queries.
    _in_threads(worker, [[a.pk for a in alerts[i:i + 3]] for i in range(0, 24, 3)], threads=8)

    assert handed_back == []  # 8 batches of 0.45 s over 3 slots: each found one within the wait

    runs = list(Execution.objects.filter(scheduled_for=tick).values_list("status", "actual_value"))
    assert [s for s, _ in runs] == [ExecutionStatus.OK] * 24
    # Measured inside the queries: three at a time, never a fourth.
    assert max(v for _, v in runs) == 3
    assert not DatasourceSlot.objects.exclude(holder="").exists()  # every slot given back


def test_a_dead_workers_slot_comes_back_after_its_lease(sqlite_db, make_datasource, make_alert, minute_schedule,
                                                        settings):
    settings.SENTINEL_LEASE_MARGIN = timedelta(seconds=0)
    datasource = make_datasource(sqlite_db[0], max_concurrent_queries=1, timeout_seconds=1.5)
    alert = make_alert(datasource, LEVEL_QUERY, schedule=minute_schedule)
    dead = datasource_slots.try_acquire(datasource)  # a worker takes the only slot, then is killed
    assert dead is not None
    assert datasource_slots.try_acquire(datasource) is None  # held while its lease runs

    started = time.monotonic()
    execution = runner.run(alert, timezone.now(), Trigger.SCHEDULE)

    assert execution.status == ExecutionStatus.OK
    # It waited for the dead holder's lease (1.5 s) and no longer.
    assert 1.0 < time.monotonic() - started < 4.5


def test_a_slow_batch_keeps_its_slot_past_the_first_lease(probe, make_datasource, make_alert, minute_schedule,
                                                          settings):
    settings.SENTINEL_LEASE_MARGIN = timedelta(seconds=0.6)  # renewed every 0.3 s of a batch
    url, query = probe
    datasource = make_datasource(url, max_concurrent_queries=1, timeout_seconds=1)  # lease: 1.6 s
    alerts = [make_alert(datasource, query(0.5), schedule=minute_schedule, grace=timedelta(days=1))
              for _ in range(5)]
    tick = timezone.now()
    batch = threading.Thread(target=lambda: (runner.run_many(alerts, tick, Trigger.SCHEDULE),
                                             connections.close_all()))
    batch.start()
    deadline = time.monotonic() + 10
    while not DatasourceSlot.objects.exclude(holder="").exists():  # the batch took the slot
        assert time.monotonic() < deadline
        time.sleep(0.01)
    held_at = time.monotonic()
    while (slot := datasource_slots.try_acquire(datasource)) is None:
        assert time.monotonic() < deadline
        time.sleep(0.05)
    free_at = time.monotonic()
    datasource_slots.release(slot)
    batch.join()

    assert Execution.objects.filter(scheduled_for=tick, status=ExecutionStatus.OK).count() == 5
    # Held for its 2.5 s of queries, not just its first 1.6 s lease.
    assert free_at - held_at > 2.2


def test_a_capped_datasources_alerts_all_run_once_per_tick(probe, make_datasource, make_alert, minute_schedule,
                                                           settings, monkeypatch):
    settings.SENTINEL_RUN_BATCH_SIZE = 4
    monkeypatch.setattr(datasource_slots, "WAIT_SECONDS", 0.05)  # a full cap hands batches back at once
    url, query = probe
    datasource = make_datasource(url, max_concurrent_queries=2)
    alerts = [make_alert(datasource, query(0.05), schedule=minute_schedule, grace=timedelta(days=1))
              for _ in range(40)]
    tick = minute_schedule.latest_tick(timezone.now())
    (batches,) = timed_batches([(a.pk, datasource.pk, 0) for a in alerts], None).values()
    handed_back = []

    def worker(item):
        ids, since = item
        batch = runner.run_many_by_id(ids, tick, Trigger.SCHEDULE, waiting_since=since)
        if batch.waiting:  # what the task sends again with its countdown (alerts/tasks.py)
            handed_back.append(batch.waiting)
            return [(batch.waiting, batch.waiting_since)]
        return []

    _in_threads(worker, [(ids, None) for ids in batches], threads=6)

    assert handed_back, "the cap never made a batch wait: the test proves nothing"
    runs = list(Execution.objects.filter(scheduled_for=tick).values_list("alert_id", "status", "actual_value"))
    assert sorted(a for a, _, _ in runs) == sorted(a.pk for a in alerts)  # each once: none lost, no duplicate
    assert {s for _, s, _ in runs} == {ExecutionStatus.OK}
    assert max(v for _, _, v in runs) <= 2


def _clock(monkeypatch, at):
    monkeypatch.setattr(timezone, "now", lambda: at)


def test_a_wait_for_a_slot_does_not_make_a_run_missed(sqlite_db, make_datasource, make_alert, minute_schedule,
                                                      monkeypatch):
    datasource = make_datasource(sqlite_db[0], max_concurrent_queries=1)
    waited, late = (make_alert(datasource, LEVEL_QUERY, schedule=minute_schedule) for _ in range(2))
    tick = minute_schedule.latest_tick(timezone.now())
    first_taken = tick + timedelta(seconds=2)
    _clock(monkeypatch, tick + timedelta(seconds=45))  # the grace is 30 s: half the minute

    batch = runner.run_many([waited], tick, Trigger.SCHEDULE, waiting_since=first_taken)
    plain = runner.run_many([late], tick, Trigger.SCHEDULE)

    assert batch.executions[waited.pk].status == ExecutionStatus.OK
    assert plain.executions[late.pk].status == ExecutionStatus.MISSED  # the same lateness without the wait


def test_a_run_still_waiting_at_its_next_tick_is_missed_saying_why(sqlite_db, make_datasource, make_alert,
                                                                   minute_schedule, monkeypatch):
    datasource = make_datasource(sqlite_db[0], name="orders-db", max_concurrent_queries=1)
    alert = make_alert(datasource, LEVEL_QUERY, schedule=minute_schedule)
    tick = minute_schedule.latest_tick(timezone.now())
    _clock(monkeypatch, tick + timedelta(seconds=65))  # the next tick was due 5 s ago

    batch = runner.run_many([alert], tick, Trigger.SCHEDULE, waiting_since=tick + timedelta(seconds=1))

    execution = batch.executions[alert.pk]
    assert execution.status == ExecutionStatus.MISSED
    assert "Waited for a query slot of datasource orders-db (at most 1 at once)" in execution.reason


def test_a_manual_run_on_a_full_cap_is_skipped_saying_why(sqlite_db, make_datasource, make_alert, monkeypatch):
    monkeypatch.setattr(datasource_slots, "WAIT_SECONDS", 0.1)
    datasource = make_datasource(sqlite_db[0], name="orders-db", max_concurrent_queries=1)
    alert = make_alert(datasource, LEVEL_QUERY)
    assert datasource_slots.try_acquire(datasource) is not None  # someone else's query

    execution = runner.run(alert, timezone.now(), Trigger.MANUAL)

    assert execution.status == ExecutionStatus.SKIPPED
    assert "All 1 query slot(s) of datasource orders-db stayed taken" in execution.reason
    alert.refresh_from_db()
    assert alert.last_status == ""  # nothing was queried, so nothing was decided


def test_without_a_cap_a_batch_makes_no_extra_queries(sqlite_db, make_datasource, make_alert, minute_schedule):
    datasource = make_datasource(sqlite_db[0])
    alerts = [make_alert(datasource, LEVEL_QUERY, schedule=minute_schedule) for _ in range(5)]
    tick = timezone.now()
    runner.run_many(alerts, tick, Trigger.SCHEDULE)  # the first run creates the states

    def statements(at):
        for alert in alerts:
            alert.refresh_from_db()
        with CaptureQueriesContext(connection) as queries:
            runner.run_many(alerts, at, Trigger.SCHEDULE)
        return [q["sql"] for q in queries.captured_queries]

    uncapped = statements(tick + timedelta(seconds=1))
    Datasource.objects.filter(pk=datasource.pk).update(max_concurrent_queries=2)
    statements(tick + timedelta(seconds=2))  # the first capped run creates the slots
    capped = statements(tick + timedelta(seconds=3))

    assert not [sql for sql in uncapped if "datasourceslot" in sql]
    # With a cap: one slot taken and given back for the whole batch, whatever its size.
    assert len([sql for sql in capped if "datasourceslot" in sql]) == 2
    assert len(capped) == len(uncapped) + 2


def test_the_cap_and_spread_are_set_in_the_admin_form_and_shown_with_the_slots_in_use(admin_client, sqlite_db):
    response = admin_client.post(reverse("admin:alerts_datasource_add"), {
        "name": "warehouse", "url": sqlite_db[0], "timeout_seconds": "5", "row_limit": "1000", "enabled": "on",
        "max_concurrent_queries": "4", "spread_seconds": "30"})
    assert response.status_code == 302, response.content.decode()[:2000]
    warehouse = Datasource.objects.get(name="warehouse")
    assert (warehouse.max_concurrent_queries, warehouse.spread_seconds) == (4, 30)
    datasource_slots.try_acquire(warehouse)

    page = admin_client.get(reverse("admin:alerts_datasource_change", args=[warehouse.pk])).content.decode()
    assert "1 of 4" in page  # query slots in use

    refused = admin_client.post(reverse("admin:alerts_datasource_change", args=[warehouse.pk]), {
        "name": "warehouse", "url": sqlite_db[0], "timeout_seconds": "5", "row_limit": "1000", "enabled": "on",
        "max_concurrent_queries": "0", "spread_seconds": "30"})
    assert refused.status_code == 200 and "greater than or equal to 1" in refused.content.decode()


@pytest.mark.django_db  # the roles' groups come from a migration: not flushed away
def test_a_viewer_sees_the_cap_but_cannot_change_it(staff_client, sqlite_db, make_datasource):
    warehouse = make_datasource(sqlite_db[0], name="warehouse", max_concurrent_queries=4)
    client = staff_client("Sentinel viewers")
    url = reverse("admin:alerts_datasource_change", args=[warehouse.pk])

    assert client.get(url).status_code == 200
    client.post(url, {"name": "warehouse", "url": sqlite_db[0], "timeout_seconds": "5", "row_limit": "1000",
                      "max_concurrent_queries": "40", "spread_seconds": "0"})
    warehouse.refresh_from_db()
    assert warehouse.max_concurrent_queries == 4


def test_the_api_shows_a_datasources_cap_and_spread(api, sqlite_db, make_datasource):
    make_datasource(sqlite_db[0], name="warehouse", max_concurrent_queries=4, spread_seconds=30)

    (item,) = api.get("/api/datasources").json()["results"]

    assert (item["max_concurrent_queries"], item["spread_seconds"]) == (4, 30)
