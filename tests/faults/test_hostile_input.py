"""Fault 9: hostile input. Queries that write or administer the server, a million rows, a 10 MB
value, and invalid cron/timezone/YAML through the admin, the API and the CLI."""

import decimal
import json
import uuid
from datetime import timedelta
from pathlib import Path

import psycopg2
import pytest
from celery import Celery
from django.contrib.auth.models import User
from django.utils import timezone

from alerts import runner
from alerts.models import Alert, AlertState, Channel, Datasource, Execution, ExecutionStatus, Notification, Trigger
from schedules.models import Schedule
from tests.api_helpers import admin_token, api  # noqa: F401 (fixtures)
from tests.factories import sentinel
from tests.faults.conftest import beat_args, duplicate_runs, worker_args
from tests.ops_processes import process_env, wait_until
from tests.test_admin_alerts import ADD, form_data
from tests.test_api_alerts import NEW
from tests.test_config_files import write

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.needs_postgres]

TEN_MB = 10 * 1024 * 1024
TICKS = 2


def hostile_queries(table: str, victim: int, marker: Path) -> dict[str, tuple[str, str]]:
    """name -> (query, the error it must end with)."""
    return {
        "update": (f"UPDATE {table} SET amount = 0", "The query starts with UPDATE and was refused"),
        "delete": (f"DELETE FROM {table}", "The query starts with DELETE and was refused"),
        "drop": (f"DROP TABLE {table}", "The query starts with DROP and was refused"),
        "writing-cte": (f"WITH gone AS (DELETE FROM {table} RETURNING *) SELECT count(*) AS n FROM gone",
                        "The query tried to write and was refused"),
        "terminate": (f"SELECT pg_terminate_backend({victim}) AS status", "The query calls pg_terminate_backend()"),
        "cancel-qualified": (f'select PG_CATALOG."pg_cancel_backend"({victim}) as status',
                             "The query calls pg_cancel_backend()"),
        "reload-conf": ("SELECT CASE WHEN pg_reload_conf() THEN 'OK' END AS status",
                        "The query calls pg_reload_conf()"),
        "copy-to-program": (f"COPY (SELECT 1) TO PROGRAM 'touch {marker}'",
                            "The query starts with COPY and was refused"),
        "do-block": (f"DO $$ BEGIN PERFORM pg_terminate_backend({victim}); END $$",
                     "The query starts with DO and was refused"),
    }


@pytest.mark.processes
def test_writing_and_admin_queries_are_refused_and_nothing_else_is_affected(
        tmp_path, redis_server, processes, make_datasource, make_alert, pg_table, pg_datasource_url):
    table, execute = pg_table
    execute("CREATE TABLE {table} (id serial PRIMARY KEY, amount numeric)")
    execute("INSERT INTO {table} (amount) VALUES (10), (20), (30)")
    victim = psycopg2.connect(pg_datasource_url.replace("+psycopg2", ""))  # a bystander session on the datasource
    victim.autocommit = True
    with victim.cursor() as cur:
        cur.execute("SELECT pg_backend_pid()")
        victim_pid = cur.fetchone()[0]
    marker = Path(f"/tmp/sentinel-faults-copy-{uuid.uuid4().hex[:8]}")  # COPY TO PROGRAM would create it
    every10 = Schedule.objects.for_timing(interval_seconds=10)
    source = make_datasource(pg_datasource_url, timeout_seconds=5)
    before = Datasource.objects.values().get(pk=source.pk)
    hostile = {name: (make_alert(source, sql, name=name, schedule=every10), error)
               for name, (sql, error) in hostile_queries(table, victim_pid, marker).items()}
    good = make_alert(source, f"SELECT CASE WHEN count(*) = 3 THEN 'OK' ELSE 'ALERT' END AS status, "
                              f"count(*) AS actual_value FROM {table}", name="good", schedule=every10)
    env = process_env(tmp_path, redis_server.url, SENTINEL_BEAT_LEASE_SECONDS=3)
    processes(worker_args("w1", "--pool=threads", "-c", "4"), env, tmp_path / "worker.log")
    processes(beat_args(tmp_path, "beat"), env, tmp_path / "beat.log")

    def finished():
        return Execution.objects.exclude(status=ExecutionStatus.RUNNING)

    wait_until(lambda: finished().filter(alert=good).count() >= TICKS
               and finished().count() >= TICKS * (len(hostile) + 1), 60, f"{TICKS} ticks of every alert",
               interval=0.5, log=tmp_path / "worker.log")

    ticks = sorted(set(finished().filter(alert=good).values_list("scheduled_for", flat=True)))[:TICKS]
    for name, (alert, error) in hostile.items():
        runs = list(Execution.objects.filter(alert=alert, scheduled_for__in=ticks).order_by("scheduled_for"))
        assert [r.scheduled_for for r in runs] == ticks, name
        for run in runs:
            assert run.status == ExecutionStatus.ERROR, (name, run.status, run.error)
            assert error in run.error, (name, run.error)
    for run in Execution.objects.filter(alert=good, scheduled_for__in=ticks):
        assert (run.status, run.actual_value) == (ExecutionStatus.OK, 3), (run.status, run.error)
        assert (run.started_at - run.scheduled_for).total_seconds() < 3  # on time, beside nine refusals
    assert not duplicate_runs()
    # The datasource is untouched: its rows, its definition, the bystander session, the server's files.
    assert execute("SELECT count(*), sum(amount) FROM {table}") == [(3, decimal.Decimal(60))]
    assert Datasource.objects.values().get(pk=source.pk) == before
    with victim.cursor() as cur:
        cur.execute("SELECT pg_backend_pid()")
        assert cur.fetchone()[0] == victim_pid
    victim.close()
    assert not marker.exists()
    print(f"FAULT-9 figures (writes): {len(hostile)} hostile alerts x {TICKS} ticks, all ERROR with their reason; "
          f"good alert OK on every tick; table rows 3 of 3; victim backend {victim_pid} alive")


def rss_kb(pid: int) -> dict[str, int]:
    fields = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        name, _, value = line.partition(":")
        if name in ("VmRSS", "VmHWM"):
            fields[name] = int(value.split()[0])
    return fields


def pool_child(pid: int) -> int | None:
    children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    return int(children[0]) if children else None


@pytest.mark.processes
def test_a_million_rows_keep_the_worker_memory_bounded(
        tmp_path, redis_server, processes, make_datasource, make_alert, pg_datasource_url):
    source = make_datasource(pg_datasource_url, timeout_seconds=20, row_limit=1000)
    small = make_alert(source, "SELECT 'OK' AS status, 1 AS actual_value", name="small")
    huge = make_alert(source, "SELECT g AS n, md5(g::text) || md5((g + 1)::text) AS pad "
                              "FROM generate_series(1, 1000000) g", name="million", mode="rows")
    env = process_env(tmp_path, redis_server.url)
    worker = processes(worker_args("w1", "--pool=prefork", "-c", "1"), env, tmp_path / "worker.log")
    wait_until(lambda: "ready" in worker.output(), 30, "the worker to start", log=worker.log)
    child = wait_until(lambda: pool_child(worker.popen.pid), 10, "the worker's pool process")
    client = Celery(broker=redis_server.url, set_as_current=False)

    def run(alert, second):
        tick = timezone.now().replace(microsecond=0) + timedelta(seconds=second)
        client.send_task("alerts.run_alert", args=[alert.pk, tick.isoformat()], queue="alerts")
        return wait_until(lambda: Execution.objects.filter(alert=alert, scheduled_for=tick)
                          .exclude(status=ExecutionStatus.RUNNING).first(), 60, f"the run of {alert.name}",
                          interval=0.2, log=worker.log)

    warm = run(small, 0)  # imports, the engine, the first connection: the baseline
    assert warm.status == ExecutionStatus.OK
    baseline = rss_kb(child)
    big = run(huge, 1)
    after = rss_kb(child)
    again = run(small, 2)

    assert pool_child(worker.popen.pid) == child, "the pool process was replaced (killed for memory?)"
    assert (big.status, big.actual_value, big.row_count, big.truncated) == (ExecutionStatus.ALERT, 1000, 1000, True)
    assert len(big.preview) == 20 and big.preview[0] == [1, big.preview[0][1]]
    assert again.status == ExecutionStatus.OK
    growth_mb = (after["VmHWM"] - baseline["VmHWM"]) / 1024
    print(f"FAULT-9 figures (million rows): worker pool process VmHWM {baseline['VmHWM'] / 1024:.0f} MB before, "
          f"{after['VmHWM'] / 1024:.0f} MB after (+{growth_mb:.1f} MB), VmRSS {after['VmRSS'] / 1024:.0f} MB, "
          f"run {big.duration_ms:.0f} ms")
    assert growth_mb < 30, f"the worker's peak memory grew by {growth_mb:.0f} MB for a million-row query"


def test_a_10mb_value_is_cut_in_the_history_and_the_messages(make_datasource, make_alert, pg_datasource_url, sink):
    hook = Channel.objects.create(name="hook", kind="webhook", config={"url": sink.url + "/hook"})
    source = make_datasource(pg_datasource_url, timeout_seconds=20)
    big = make_alert(source, f"SELECT 'ALERT' AS status, repeat('v', {TEN_MB}) AS actual_value, "
                             f"repeat('c', {TEN_MB}) AS note", name="big", channels=[hook])
    key = make_alert(source, "SELECT repeat('k', 600) AS key, 'OK' AS status", name="long-key")
    status = make_alert(source, f"SELECT repeat('s', {TEN_MB}) AS status", name="big-status")
    echoed = make_alert(source, f"SELECT repeat('e', {TEN_MB})::int AS status", name="echoed")  # PG quotes it back
    now = timezone.now()

    execution = runner.run(big, now, Trigger.MANUAL)
    cut = f"... ({TEN_MB} characters)"
    assert execution.status == ExecutionStatus.ALERT
    assert execution.actual_value == "v" * 500 + cut
    assert execution.context == {"note": "c" * 500 + cut}
    assert execution.preview == [["ALERT", "v" * 500 + cut, "c" * 500 + cut]]
    assert Alert.objects.get(pk=big.pk).last_value == execution.actual_value
    assert AlertState.objects.get(alert=big).last_value == execution.actual_value
    notification = Notification.objects.get(alert=big)
    assert len(json.dumps(notification.payload)) < 10_000
    wait_until(lambda: sink.requests, 10, "the firing message at the sink")
    assert sink.events() == ["firing"]

    for alert, words in [(key, "An instance key is 600 characters long; keys are at most 500"),
                         (status, "The `status` column holds 'sssss"),
                         (echoed, 'invalid input syntax for type integer: "eeee')]:
        run = runner.run(alert, now, Trigger.MANUAL)
        assert run.status == ExecutionStatus.ERROR and words in run.error, (alert.name, run.error[:300])
        assert len(run.error) < 2_500, (alert.name, len(run.error))
    assert not Execution.objects.filter(status=ExecutionStatus.RUNNING).exists()
    sizes = {e.alert.name: len(json.dumps([e.actual_value, e.context, e.preview, e.error]))
             for e in Execution.objects.select_related("alert")}
    print(f"FAULT-9 figures (10 MB value): stored per execution {sizes} characters; "
          f"notification payload {len(json.dumps(notification.payload))} characters")


def test_invalid_cron_timezone_and_yaml_are_refused_by_admin_api_and_cli(
        client, api, tmp_path, make_datasource, sqlite_db):  # noqa: F811
    url, _ = sqlite_db
    source = make_datasource(url, name="default")
    before = (Alert.objects.count(), Schedule.objects.count(), Datasource.objects.values().get(pk=source.pk))
    client.force_login(User.objects.create_superuser("root", "root@example.com", "pw"))

    # The admin: each error sits on its field, and nothing is created.
    for overrides, field, words in [({"schedule_text": "61 * * * *"}, "schedule_text", "Cannot read schedule"),
                                    ({"schedule_timezone": "Mars/Olympus"}, "schedule_timezone", "Unknown timezone")]:
        response = client.post(ADD, form_data(source, **overrides))
        assert response.status_code == 200
        errors = response.context["adminform"].form.errors
        assert words in " ".join(errors.get(field, [])), errors

    # The API: 400, the field named.
    response = api.post("/api/alerts", {**NEW, "schedule": "61 * * * *"}, format="json")
    assert response.status_code == 400
    assert response.json()["schedule"][0].startswith("Invalid cron expression '61 * * * *'")
    response = api.post("/api/alerts", {**NEW, "timezone": "Mars/Olympus"}, format="json")
    assert response.status_code == 400 and "Unknown timezone 'Mars/Olympus'" in json.dumps(response.json())

    # The CLI: validate and apply both refuse, saying the file, line and field.
    bad = write(tmp_path, """
        alerts:
          - name: nightly
            query: SELECT 'OK' AS status
            schedule: "61 * * * *"
            timezone: Mars/Olympus
        """, "bad.yaml")
    broken = write(tmp_path, "alerts:\n  - name: a\n    query: [SELECT 1\n", "broken.yaml")
    for command in ("validate", "apply"):
        code, out = sentinel(command, bad)
        assert code == 1, out
        assert f"{bad}:4: alerts[0] (nightly).schedule: Invalid cron expression '61 * * * *'" in out
        assert f"{bad}:5: alerts[0] (nightly).timezone: Unknown timezone 'Mars/Olympus'" in out
        code, out = sentinel(command, broken)
        assert code == 1 and out.startswith(f"{broken}:4: Not valid YAML:"), out

    assert (Alert.objects.count(), Schedule.objects.count(), Datasource.objects.values().get(pk=source.pk)) == before
