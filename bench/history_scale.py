"""History at scale: the admin pages, the alert page's chart and the statistics over 20 million
raw executions and a year of rollups, and the cost of retention at 10,000 alerts a minute.

    .venv/bin/python bench/history_scale.py [--rebuild] [--runs 5] [--skip-retention] [--skip-pages]

Creates (once; --rebuild to start over) in a scratch PostgreSQL database:

- 2,000 minutely alerts with 7 days of every run (20,160,000 executions, the raw window), the 83
  days before it as retention keeps them (non-OK runs and state changes only), and a year of
  hourly rollups (17.5 million rows: the raw window's rolled up by alerts/rollups.py, timed, the
  358 days before it generated in SQL), then the deployment-wide tier built from them (timed).
  Shape per alert: 99 % OK, a 15-minute firing every 2 days (0.5 % ALERT), 0.5 % ERROR scattered.
- For retention: 10,000 more alerts with one day of minutely runs (14,400,000, 1 % not OK) just
  past the raw window; alerts.retention.prune() expires it with the tiered retention, and the
  time and CPU of Sentinel's process and of its PostgreSQL backend (/proc/<pid>/stat) are printed,
  with the VACUUM that the deleted rows then need. This day is generated again on each run.

Then times each admin page, the alert page's chart over 90 days (2,160 hourly points, in-process),
and GET /api/alerts/{name}/stats?since=90d|365d and /api/stats?since=365d (Django's test client:
server time, no network), median and worst of --runs calls, against the 500 ms target.

The database is BENCH_POSTGRES_URL (default postgresql://postgres@127.0.0.1:5432/sentinel_history_scale);
it is created when missing and never dropped.
"""

import argparse
import os
import statistics
import sys
import time
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.admin_pages import ensure_database  # noqa: E402  (it sets its own DATABASE_URL: ours follows)

BENCH_URL = os.environ.get("BENCH_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/sentinel_history_scale")
os.environ["DATABASE_URL"] = BENCH_URL
os.environ.setdefault("SENTINEL_VAR_DIR", "/tmp/sentinel-bench-var")
os.environ["DJANGO_SETTINGS_MODULE"] = "sentinel_project.settings"
os.environ.setdefault("LOG_LEVEL", "WARNING")
os.environ.setdefault("ALLOWED_HOSTS", "testserver,localhost")
# A scratch database on this machine, not a deployment: a key of its own is enough.
os.environ.setdefault("SECRET_KEY", "bench-history-scale-scratch-key-not-for-deployments-0123456789")

ALERTS = int(os.environ.get("BENCH_ALERTS", 2_000))  # fewer: a quick try of the bench itself
RAW_DAYS = 7
KEPT_DAYS = 83  # the rest of the default 90-day retention, as the tiers keep it
YEAR_HOURS = 365 * 24
RETENTION_ALERTS = int(os.environ.get("BENCH_RETENTION_ALERTS", 10_000))
TARGET_MS = 500
TARGET_CORE_SHARE = 0.05  # of one core, averaged over the day the expiry is for
STATS_PREFIX = "scale-"
RETENTION_PREFIX = "expire-"

# The per-minute shape, in SQL over m (minutes since the data's start, negative before it) and
# a (the alert's index): fires 15 minutes every 2 days, errors 1 run in 200 outside firings.
FIRING = "(((m + a * 37) %% 2880 + 2880) %% 2880 < 15)"
FIRING_BEFORE = "(((m - 1 + a * 37) %% 2880 + 2880) %% 2880 < 15)"
ERROR = f"(NOT {FIRING} AND ((m::bigint * 7919 + a::bigint * 104729) %% 200 + 200) %% 200 = 0)"
EXECUTION_COLUMNS = """alert_id, scheduled_for, trigger, status, reason, started_at, finished_at, duration_ms,
    attempts, lease_expires_at, actual_value, threshold, row_count, truncated, columns, preview, context, error,
    state_before, state_after, worker, task_id"""
EXECUTION_VALUES = f"""%(first)s + a, t, 'schedule', s, '', t + lag, t + lag + d * interval '1 millisecond', d, 1,
    NULL, to_jsonb((m + a) %% 97), '50'::jsonb, 1, false, '["value"]'::jsonb, '[[42]]'::jsonb, '{{}}'::jsonb,
    CASE WHEN s = 'ERROR' THEN 'relation "orders" does not exist' ELSE '' END,
    CASE WHEN {FIRING_BEFORE} THEN 'FIRING' ELSE 'OK' END, CASE WHEN {FIRING} THEN 'FIRING' ELSE 'OK' END,
    'bench:1', ''"""
MINUTES = """(SELECT m, a, %(start)s::timestamptz + m * interval '1 minute' AS t,
              CASE WHEN {firing} THEN 'ALERT' WHEN {error} THEN 'ERROR' ELSE 'OK' END AS s,
              (20 + ((m::bigint * 7919 + a * 31) %% 400 + 400) %% 400)::float8 AS d,
              (((m::bigint * 104729 + a * 13) %% 3000 + 3000) %% 3000) * interval '1 millisecond' AS lag
       FROM generate_series(%(m0)s, %(m1)s - 1) AS m, generate_series(0, %(alerts)s - 1) AS a) AS run"""


def sql(cursor, statement: str, params=None, label: str = "") -> float:
    clock = time.monotonic()
    cursor.execute(statement, params)
    took = time.monotonic() - clock
    if label:
        print(f"  {label}: {took:.0f} s", flush=True)
    return took


def create_alerts(prefix: str, count: int) -> int:
    """`count` minutely alerts named prefix-NNNNN; the first one's id (ids are consecutive)."""
    from alerts.models import Alert, Datasource
    from schedules.models import Schedule

    existing = Alert.objects.filter(name__startswith=prefix)
    if existing.count() != count:
        existing.delete()
        ds, _ = Datasource.objects.get_or_create(name="warehouse", defaults={"url": "sqlite:////tmp/bench.sqlite3"})
        minutely, _ = Schedule.objects.get_or_create(cron="* * * * *", timezone="UTC")
        # bulk_create skips beat's mirror: nothing runs these, they only hold history.
        Alert.objects.bulk_create([
            Alert(name=f"{prefix}{i:05d}", datasource=ds, schedule=minutely, query=f"SELECT count(*) FROM t_{i}",
                  mode="threshold", threshold=50, state="OK") for i in range(count)], batch_size=2000)
    ids = list(Alert.objects.filter(name__startswith=prefix).order_by("name").values_list("pk", flat=True))
    assert ids == list(range(ids[0], ids[0] + count)), "alert ids are not consecutive"
    return ids[0]


def execution_indexes(cursor) -> list[str]:
    cursor.execute("""SELECT indexdef FROM pg_indexes WHERE tablename = 'alerts_execution'
                      AND indexname NOT IN (SELECT conname FROM pg_constraint)""")
    return [row[0] for row in cursor.fetchall()]


def populate_history(rebuild: bool):
    """The 2,000 alerts' executions and rollups; returns (first alert id, the raw window's start)."""
    from django.db import connection
    from django.utils import timezone

    from alerts import histograms
    from alerts.models import Alert, Execution, ExecutionRollup, RollupProgress
    from alerts.stats import floor_hour

    first = create_alerts(STATS_PREFIX, ALERTS)
    rows = Execution.objects.filter(alert_id=first)
    if not rebuild and rows.filter(scheduled_for__gte=timezone.now() - timedelta(days=RAW_DAYS + 1)).count() \
            >= RAW_DAYS * 1440 and ExecutionRollup.objects.filter(alert_id=first).count() >= YEAR_HOURS - RAW_DAYS * 24:
        # The hour the alerts were made in, less the raw window: runs added since do not move it.
        made = Alert.objects.get(pk=first).created_at
        start = floor_hour(made) - timedelta(days=RAW_DAYS)
        print(f"data in place: {ALERTS:,} alerts, raw window from {start:%Y-%m-%d %H:%M} UTC")
        return first, start
    start = floor_hour(timezone.now()) - timedelta(days=RAW_DAYS)
    print(f"generating the history of {ALERTS:,} alerts (raw window from {start:%Y-%m-%d %H:%M} UTC)", flush=True)
    with connection.cursor() as cursor:
        ids = f"alert_id BETWEEN {first} AND {first + ALERTS - 1}"
        sql(cursor, f"DELETE FROM alerts_executionrollup WHERE {ids}")
        sql(cursor, f"DELETE FROM alerts_execution WHERE {ids}", label="old history deleted")
        sql(cursor, "SET maintenance_work_mem = '512MB'")
        sql(cursor, "SET session_replication_role = replica")  # no foreign-key trigger per generated row
        indexes = execution_indexes(cursor)
        cursor.execute("""SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint
                          WHERE conrelid = 'alerts_execution'::regclass AND contype = 'u'""")
        uniques = cursor.fetchall()
        # Built after the rows: inserting 20 million rows into 8 indexes is several times slower.
        for definition in indexes:
            sql(cursor, f"DROP INDEX {definition.split(' INDEX ')[1].split(' ON ')[0]}")
        for name, _ in uniques:
            sql(cursor, f"ALTER TABLE alerts_execution DROP CONSTRAINT {name}")
        params = {"first": first, "start": start, "alerts": ALERTS}
        for day in range(-KEPT_DAYS, 0, 10):  # before the raw window: what the middle tier keeps
            sql(cursor, f"INSERT INTO alerts_execution ({EXECUTION_COLUMNS}) SELECT {EXECUTION_VALUES} FROM "
                        f"{MINUTES.format(firing=FIRING, error=ERROR)} "
                        f"WHERE s <> 'OK' OR {FIRING_BEFORE}",
                {**params, "m0": day * 1440, "m1": min(day + 10, 0) * 1440}, label=f"kept runs, days {day}..")
        for day in range(RAW_DAYS):
            sql(cursor, f"INSERT INTO alerts_execution ({EXECUTION_COLUMNS}) SELECT {EXECUTION_VALUES} FROM "
                        f"{MINUTES.format(firing=FIRING, error=ERROR)}",
                {**params, "m0": day * 1440, "m1": (day + 1) * 1440}, label=f"raw day {day + 1} of {RAW_DAYS}")
        for name, definition in uniques:
            sql(cursor, f"ALTER TABLE alerts_execution ADD CONSTRAINT {name} {definition}", label=name)
        for definition in indexes:
            sql(cursor, definition, label=definition.split(" INDEX ")[1].split(" ON ")[0])
        sql(cursor, "ANALYZE alerts_execution", label="analyze")
        populate_old_rollups(cursor, first, start, histograms)
        sql(cursor, "SET session_replication_role = DEFAULT")
    # The raw window's hours, by the roll-up pass itself: from the raw window's start.
    RollupProgress.objects.update_or_create(pk=1, defaults={"rolled_until": start, "checked_until": timezone.now(),
                                                            "lease_expires_at": None})
    return first, start


def populate_old_rollups(cursor, first: int, start, histograms) -> None:
    """The 358 days of hourly rollups before the raw window, in SQL: 60 runs an hour, the firings
    and errors of the same shape (the firing's transitions at their minute)."""
    durations = histograms.encode({_bucket(20): 15, _bucket(60): 20, _bucket(150): 15, _bucket(400): 10})
    lags = histograms.encode({_bucket(3): 10, _bucket(300): 20, _bucket(1500): 20, _bucket(2900): 10})
    hours = YEAR_HOURS - RAW_DAYS * 24
    for a0 in range(0, ALERTS, 500):
        sql(cursor, """
            INSERT INTO alerts_executionrollup (alert_id, hour, runs_ok, runs_alert, runs_no_data, runs_error,
                runs_timeout, runs_skipped, runs_missed, runs_running, duration_n, duration_sum, duration_min,
                duration_max, duration_histogram, lag_n, lag_min, lag_max, lag_histogram, value_n, value_sum,
                value_min, value_max, value_last, value_at, firing_in_n, firing_in_sum, firing_in_first,
                firing_out_n, firing_out_sum, firing_out_first, firing_runs, last_success_at, last_success_id,
                last_success_status, last_failure_at, last_failure_id, last_failure_status, last_failure_error,
                rolled_at)
            SELECT %(first)s + a, hour, 60 - firing - err, firing, 0, err, 0, 0, 0, 0, 60, 60 * 219.5, 20, 419,
                   %(durations)s, 60, 0, 2999, %(lags)s, 60 - err, (60 - err) * 48.0, 0, 96, (h + a) %% 97,
                   hour + interval '59 minutes',
                   (p_in < 60)::int, CASE WHEN p_in < 60 THEN p_in * 60.0 END,
                   CASE WHEN p_in < 60 THEN hour + p_in * interval '1 minute' END,
                   (p_out < 60)::int, CASE WHEN p_out < 60 THEN p_out * 60.0 END,
                   CASE WHEN p_out < 60 THEN hour + p_out * interval '1 minute' END, firing,
                   hour + interval '59 minutes', h::bigint * 100000 + a, 'OK',
                   CASE WHEN err = 1 THEN hour + ((a * 13 + h) %% 60) * interval '1 minute' END,
                   CASE WHEN err = 1 THEN h::bigint * 100000 + a END, CASE WHEN err = 1 THEN 'ERROR' ELSE '' END,
                   CASE WHEN err = 1 THEN 'relation "orders" does not exist' ELSE '' END,
                   hour + interval '70 minutes'
            FROM (SELECT a, h, %(start)s::timestamptz + h * interval '1 hour' AS hour,
                         ((h * 7 + a) %% 3 = 0)::int AS err,
                         greatest(0, least(p + 60, 15) - greatest(p, 0))
                           + greatest(0, least(p + 60, 2895) - greatest(p, 2880)) AS firing,
                         (2880 - p) %% 2880 AS p_in, ((15 - p) %% 2880 + 2880) %% 2880 AS p_out
                  FROM generate_series(%(a0)s, %(a1)s - 1) AS a, generate_series(-%(hours)s, -1) AS h,
                       LATERAL (SELECT ((h * 60 + a * 37) %% 2880 + 2880) %% 2880 AS p) AS position) AS hourly
            """, {"first": first, "start": start, "durations": durations, "lags": lags, "hours": hours,
                  "a0": a0, "a1": min(a0 + 500, ALERTS)}, label=f"rollups of alerts {a0}..{a0 + 499}")
    sql(cursor, "ANALYZE alerts_executionrollup", label="analyze rollups")


def _bucket(ms: float) -> int:
    return next(b for b in range(1, 273) if _bounds(b)[0] <= ms < _bounds(b)[1])


def _bounds(bucket: int):
    from alerts import histograms

    return histograms.bounds(bucket)



def top_up(first: int, start) -> list[tuple[str, float]]:
    """The runs since the data was made, up to now, and a roll-up pass over them, as on a running
    deployment: a window's raw edges (its partial first hour, and the hours since the last pass)
    then hold what they would."""
    from django.db import connection
    from django.utils import timezone

    from alerts import rollups
    from alerts.models import Execution

    last = Execution.objects.filter(alert_id=first).order_by("-scheduled_for").values_list(
        "scheduled_for", flat=True).first()
    now = timezone.now().replace(second=0, microsecond=0)
    m0, m1 = int((last - start).total_seconds() // 60) + 1, int((now - start).total_seconds() // 60)
    if m1 <= m0:
        return []
    with connection.cursor() as cursor:
        took = sql(cursor, f"INSERT INTO alerts_execution ({EXECUTION_COLUMNS}) SELECT {EXECUTION_VALUES} FROM "
                           f"{MINUTES.format(firing=FIRING, error=ERROR)}",
                   {"first": first, "start": start, "alerts": ALERTS, "m0": m0, "m1": m1})
    clock = time.monotonic()
    done = rollups.roll_up(max_seconds=1800)
    return [(f"runs of the last {m1 - m0} minutes added ({(m1 - m0) * ALERTS:,})", took),
            (f"a roll-up pass over them ({done.hours} hours, {done.rows:,} rows)", time.monotonic() - clock)]


def roll_up_raw_window(start) -> list[tuple[str, float]]:
    """Roll up the raw window with the roll-up pass, then make the overall tier of the year before
    it as a deployment upgrading to it would (RollupProgress.overall_from), each timed."""
    from django.db import connection

    from alerts import rollups
    from alerts.models import OverallRollup, RollupProgress
    from alerts.stats import HOUR

    progress = RollupProgress.objects.get(pk=1)
    figures = []
    if progress.rolled_until <= start:
        RollupProgress.objects.filter(pk=1).update(overall_from=None)  # timed apart, just below
        clock = time.monotonic()
        done = rollups.roll_up(max_seconds=3600)
        figures.append((f"roll-up pass over the raw window ({done.hours} hours, {done.rows:,} rows)",
                        time.monotonic() - clock))
        RollupProgress.objects.filter(pk=1).update(overall_from=start)
    if RollupProgress.objects.get(pk=1).overall_from is not None:
        clock = time.monotonic()
        assert rollups.fill_overall(time.monotonic() + 3600)
        figures.append((f"overall tier made for the year before it ({OverallRollup.objects.count():,} hours)",
                        time.monotonic() - clock))
        with connection.cursor() as cursor:
            cursor.execute("VACUUM ANALYZE alerts_executionrollup")
            cursor.execute("VACUUM ANALYZE alerts_overallrollup")
    hour = start + 24 * HOUR
    clock = time.monotonic()
    rows = rollups.save(rollups.roll_hours(hour, hour + HOUR))
    rollups.save_overall(hour, hour + HOUR)
    figures.append((f"one hour of every alert rolled up again ({rows:,} rows, and its overall row)",
                    time.monotonic() - clock))
    return figures


def timed(call, runs: int) -> tuple[float, float]:
    call()  # warm-up: index pages in shared buffers, as on a busy server
    times = []
    for _ in range(runs):
        clock = time.perf_counter()
        call()
        times.append((time.perf_counter() - clock) * 1000)
    return statistics.median(times), max(times)


def time_reads(first: int, runs: int) -> list[tuple[str, float, float]]:
    from django.contrib.auth.models import User
    from django.test import Client

    from alerts.admin import display
    from alerts.admin.alerts import CHART_POINTS
    from alerts.models import Alert, Execution

    user = User.objects.filter(username="bench").first() or User.objects.create_superuser("bench", "", "bench")
    client = Client()
    client.force_login(user)
    alert = Alert.objects.get(pk=first + ALERTS // 2)
    execution = Execution.objects.filter(alert=alert).order_by("-scheduled_for").first()
    failed = Execution.objects.filter(alert=alert, status="ERROR").order_by("-scheduled_for").first()

    def get(url):
        def call():
            response = client.get(url)
            assert response.status_code == 200, (url, response.status_code)
        return call

    def chart_90_days():
        latest = list(alert.executions.order_by("-scheduled_for")[:CHART_POINTS])
        runs, hours = display.chart_history(alert, latest[:1], 90 * 24)  # the latest run and 90 days of hours
        assert len(hours) > 2000, len(hours)
        display.history_chart(runs, hours)

    calls = [
        ("alerts list", get("/admin/alerts/alert/")),
        ("alerts list, state=FIRING", get("/admin/alerts/alert/?state=FIRING")),
        ("executions list", get("/admin/alerts/execution/")),
        ("executions list, status=ERROR", get("/admin/alerts/execution/?status__exact=ERROR")),
        ("executions list, one alert", get(f"/admin/alerts/execution/?alert={alert.pk}")),
        ("alert page (history, chart, stats)", get(f"/admin/alerts/alert/{alert.pk}/change/")),
        ("execution page", get(f"/admin/alerts/execution/{execution.pk}/change/")),
        ("execution page, an old ERROR", get(f"/admin/alerts/execution/{failed.pk}/change/")),
        ("alert chart over 90 days (2,160 hours)", chart_90_days),
        ("GET /api/alerts/{name}/stats?since=90d", get(f"/api/alerts/{alert.name}/stats?since=90d")),
        ("GET /api/alerts/{name}/stats?since=365d", get(f"/api/alerts/{alert.name}/stats?since=365d")),
        ("GET /api/stats?since=90d", get("/api/stats?since=90d")),
        ("GET /api/stats?since=365d", get("/api/stats?since=365d")),
    ]
    results = []
    for label, call in calls:
        median, worst = timed(call, runs)
        results.append((label, median, worst))
        print(f"  {label}: median {median:.0f} ms, worst {worst:.0f} ms", flush=True)
    return results


def overall_without_the_tier() -> float:
    """overall_stats() over 365 days from the per-alert rollups alone (as before the overall tier):
    one call, in ms, it takes long."""
    from alerts import stats
    from alerts.models import RollupProgress

    progress = RollupProgress.objects.get(pk=1)
    RollupProgress.objects.filter(pk=1).update(overall_from=progress.rolled_until)
    try:
        clock = time.perf_counter()
        stats.overall_stats(stats.window("365d"))
        return (time.perf_counter() - clock) * 1000
    finally:
        RollupProgress.objects.filter(pk=1).update(overall_from=progress.overall_from)


def overall_before_the_pass(runs: int) -> tuple[float, float]:
    """overall_stats() over 365 days with the rollups an hour further behind than now (a late or
    failed roll-up pass): an hour more of raw rows at the window's end."""
    from alerts import stats
    from alerts.models import RollupProgress
    from alerts.stats import HOUR

    progress = RollupProgress.objects.get(pk=1)
    RollupProgress.objects.filter(pk=1).update(rolled_until=progress.rolled_until - HOUR)
    try:
        return timed(lambda: stats.overall_stats(stats.window("365d")), runs)
    finally:
        RollupProgress.objects.filter(pk=1).update(rolled_until=progress.rolled_until)



def cpu_seconds(pid: int) -> float:
    """utime + stime of a process on this machine (/proc/<pid>/stat, fields 14 and 15)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def expire_a_day(start, batch_size: int | None) -> list[tuple[str, float]]:
    """One day of RETENTION_ALERTS minutely alerts just past the raw window, expired by prune()."""
    from django.conf import settings
    from django.db import connection
    from django.db.models import F

    from alerts import retention
    from alerts.models import Execution

    first = create_alerts(RETENTION_PREFIX, RETENTION_ALERTS)
    ids = f"alert_id BETWEEN {first} AND {first + RETENTION_ALERTS - 1}"
    day = RETENTION_ALERTS * 1440
    print(f"\ngenerating one day of {RETENTION_ALERTS:,} alerts a minute ({day:,} runs) past the raw window",
          flush=True)
    with connection.cursor() as cursor:
        sql(cursor, f"DELETE FROM alerts_execution WHERE {ids}", label="what an earlier run kept deleted")
        sql(cursor, "SET session_replication_role = replica")
        for a0 in range(0, RETENTION_ALERTS, 2000):  # alert by alert: each index is written in runs
            sql(cursor, f"""INSERT INTO alerts_execution ({EXECUTION_COLUMNS}) SELECT {EXECUTION_VALUES} FROM
                (SELECT m, a, %(start)s::timestamptz + m * interval '1 minute' AS t,
                        CASE WHEN {FIRING} THEN 'ALERT' WHEN {ERROR} THEN 'ERROR' ELSE 'OK' END AS s,
                        (20 + ((m::bigint * 7919 + a * 31) %% 400 + 400) %% 400)::float8 AS d,
                        (((m::bigint * 104729 + a * 13) %% 3000 + 3000) %% 3000) * interval '1 millisecond' AS lag
                 FROM generate_series(%(a0)s, %(a1)s - 1) AS a, generate_series(-1440, -1) AS m) AS run""",
                {"first": first, "start": start, "a0": a0, "a1": min(a0 + 2000, RETENTION_ALERTS)},
                label=f"alerts {a0}..{a0 + 1999}")
        sql(cursor, "SET session_replication_role = DEFAULT")
        # Vacuumed below, on purpose: its cost is part of expiring by DELETE.
        sql(cursor, "ALTER TABLE alerts_execution SET (autovacuum_enabled = false)")
        sql(cursor, "VACUUM ANALYZE alerts_execution", label="vacuum analyze before")
        cursor.execute("SELECT pg_backend_pid()")
        backend = cursor.fetchone()[0]
    day_runs = Execution.objects.filter(alert_id__gte=first, alert_id__lt=first + RETENTION_ALERTS)
    plain = day_runs.filter(status="OK", state_before=F("state_after")).count()
    print(f"  {day_runs.count():,} runs, {plain:,} of them plain OK", flush=True)
    now = start + timedelta(days=settings.SENTINEL_RAW_HISTORY_DAYS)  # the day is just past the raw window
    wall, own, db = time.monotonic(), time.process_time(), cpu_seconds(backend)
    pruned = retention.prune(now=now, batch_size=batch_size, max_seconds=6 * 3600)
    wall, own, db = time.monotonic() - wall, time.process_time() - own, cpu_seconds(backend) - db
    assert pruned.finished
    with connection.cursor() as cursor:
        vacuum_wall, vacuum_db = time.monotonic(), cpu_seconds(backend)
        cursor.execute("VACUUM alerts_execution")
        vacuum_wall, vacuum_db = time.monotonic() - vacuum_wall, cpu_seconds(backend) - vacuum_db
        cursor.execute("ALTER TABLE alerts_execution RESET (autovacuum_enabled)")
    left = Execution.objects.filter(alert_id__gte=first, alert_id__lt=first + RETENTION_ALERTS).count()
    budget = TARGET_CORE_SHARE * 86400
    total = own + db + vacuum_db
    batch = batch_size or settings.SENTINEL_RETENTION_BATCH_SIZE
    print(f"  expired {pruned.executions:,} runs, kept {left:,}; batch {batch}")
    return [("prune() wall time", wall), ("Sentinel process CPU", own), ("PostgreSQL backend CPU", db),
            ("VACUUM afterwards: wall", vacuum_wall), ("VACUUM afterwards: backend CPU", vacuum_db),
            (f"CPU in all (target under {budget:,.0f} s a day = {TARGET_CORE_SHARE:.0%} of one core)", total),
            ("share of one core over the day", total / 86400 * 100)]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--rebuild", action="store_true")
    parser.add_argument("--generate-only", action="store_true")
    parser.add_argument("--skip-reads", action="store_true")
    parser.add_argument("--skip-retention", action="store_true")
    parser.add_argument("--batch-size", type=int, help="retention's batch (default SENTINEL_RETENTION_BATCH_SIZE)")
    args = parser.parse_args()
    ensure_database(BENCH_URL)
    import django
    from django.core.management import call_command

    django.setup()
    call_command("migrate", verbosity=0)
    first, start = populate_history(args.rebuild)
    if args.generate_only:
        return 0
    for label, seconds in roll_up_raw_window(start) + top_up(first, start):
        print(f"  {label}: {seconds:.1f} s", flush=True)
    over = []
    if not args.skip_reads:
        over = report_reads(first, args.runs)
    if not args.skip_retention:
        figures = expire_a_day(start, args.batch_size)
        print(f"\n{'retention: one day of 10,000 alerts a minute':60} {'seconds':>10}")
        for label, value in figures:
            print(f"{label:60} {value:10.1f}{'  (%)' if label.startswith('share') else ''}")
        if figures[-1][1] >= TARGET_CORE_SHARE * 100:
            over.append("retention")
    return 1 if over else 0


def report_reads(first: int, runs: int) -> list:
    print("\nreads (server time):", flush=True)
    reads = time_reads(first, runs)
    edges = overall_before_the_pass(runs)
    reads.append(("overall 365 d, rollups an hour behind", *edges))
    print(f"  overall 365 d, rollups an hour behind: median {edges[0]:.0f} ms, worst {edges[1]:.0f} ms",
          flush=True)
    before = overall_without_the_tier()
    print(f"\n{'read':44} {'median ms':>10} {'worst ms':>9}")
    for label, median, worst in reads:
        flag = "" if worst < TARGET_MS else "  OVER TARGET"
        print(f"{label:44} {median:10.0f} {worst:9.0f}{flag}")
    print(f"{'(overall 365 d without the overall tier, once)':44} {before:10.0f}")
    over = [r for r in reads if r[2] >= TARGET_MS]
    print(f"\ntarget {TARGET_MS} ms each: {'all within' if not over else f'{len(over)} over'}")
    return over


if __name__ == "__main__":
    sys.exit(main())
