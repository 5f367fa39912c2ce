"""Time the statistics (alerts/stats.py) of one alert with a year of minutely history.

    .venv/bin/python bench/stats.py [--rebuild] [--runs 7] [--explain]

Creates (once; --rebuild to start over) one alert with 525,600 executions, one per
minute for 365 days (mixed statuses, durations, fire lags and firing periods), and
a second alert with an hour of runs, in a scratch PostgreSQL database; rolls the
history up into hourly rollups (alerts/rollups.py) and times that: the whole year
from nothing, one pass with nothing new, and one hour rolled again; then times
alert_stats() over 24 h, 7 d, 30 d and 365 d and overall_stats() over the same
windows, from the raw rows alone (as before the rollups) and with the rollups:
the median and worst of --runs calls, and the number of SQL queries each.
--explain prints EXPLAIN (ANALYZE, BUFFERS) of the 365 d queries with rollups.

The database is BENCH_POSTGRES_URL (default postgresql://postgres@127.0.0.1:5432/sentinel_stats_bench);
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

BENCH_URL = os.environ.get("BENCH_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/sentinel_stats_bench")
os.environ["DATABASE_URL"] = BENCH_URL
os.environ.setdefault("SENTINEL_VAR_DIR", "/tmp/sentinel-bench-var")
os.environ["DJANGO_SETTINGS_MODULE"] = "sentinel_project.settings"
os.environ.setdefault("LOG_LEVEL", "WARNING")
# A scratch database on this machine, not a deployment: a key of its own is enough.
os.environ.setdefault("SECRET_KEY", "bench-stats-scratch-key-not-for-deployments-0123456789abcdef")

MINUTES = 365 * 24 * 60
BUDGET_MS = 200
WINDOWS = (("24 h", timedelta(hours=24)), ("7 d", timedelta(days=7)), ("30 d", timedelta(days=30)),
           ("365 d", timedelta(days=365)))


def populate(rebuild: bool) -> None:
    from django.db import connection

    from alerts.models import Alert, Datasource, Execution

    alert = Alert.objects.filter(name="minutely").first()
    if not rebuild and alert is not None and Execution.objects.filter(alert=alert).count() == MINUTES:
        print(f"data in place: {MINUTES:,} executions of 'minutely'")
        return
    started = time.monotonic()
    with connection.cursor() as cursor:
        cursor.execute("TRUNCATE alerts_deliveryattempt, alerts_notification, alerts_execution, alerts_alertstate, "
                       "alerts_alert_channels, alerts_alert CASCADE")
    ds, _ = Datasource.objects.get_or_create(name="warehouse", defaults={"url": "sqlite:////tmp/bench.sqlite3"})
    alert = Alert.objects.create(name="minutely", datasource=ds, query="SELECT 1 AS value", mode="threshold",
                                 threshold=50)
    other = Alert.objects.create(name="hourly-one", datasource=ds, query="SELECT 1 AS value", mode="threshold",
                                 threshold=50)
    with connection.cursor() as cursor:
        # One set-based insert: 525,600 ORM objects would time the generator, not the statistics.
        # Minute g: status by g % 100 (90 OK, 6 ALERT, 1 NO_DATA, 1 ERROR, 1 TIMEOUT, 1 MISSED); the
        # alert fires for the 6 ALERT minutes of every hundred, so each hundred holds one firing.
        cursor.execute(
            """
            INSERT INTO alerts_execution (alert_id, scheduled_for, trigger, status, reason, started_at, finished_at,
                duration_ms, attempts, actual_value, threshold, row_count, truncated, columns, preview, context, error,
                state_before, state_after, worker, task_id)
            SELECT %s, t, 'schedule', s, '', t + lag, t + lag + (d || ' milliseconds')::interval, d, 1,
                   to_jsonb(g %% 97), '50'::jsonb, 1, false, '["value"]'::jsonb, '[[42]]'::jsonb, '{}'::jsonb,
                   CASE WHEN s IN ('ERROR', 'TIMEOUT') THEN 'relation "orders" does not exist' ELSE '' END,
                   CASE WHEN g %% 100 BETWEEN 91 AND 96 THEN 'FIRING' WHEN s = 'MISSED' THEN '' ELSE 'OK' END,
                   CASE WHEN g %% 100 BETWEEN 90 AND 95 THEN 'FIRING' WHEN s = 'MISSED' THEN '' ELSE 'OK' END,
                   'bench:1', ''
            FROM (SELECT g, date_trunc('minute', now()) - (%s - g) * interval '1 minute' AS t,
                         CASE WHEN g %% 100 < 90 THEN 'OK' WHEN g %% 100 < 96 THEN 'ALERT'
                              WHEN g %% 100 = 96 THEN 'NO_DATA' WHEN g %% 100 = 97 THEN 'ERROR'
                              WHEN g %% 100 = 98 THEN 'TIMEOUT' ELSE 'MISSED' END AS s,
                         (20 + (g::bigint * 7919) %% 400)::float8 AS d,
                         ((g::bigint * 104729) %% 3000) * interval '1 millisecond' AS lag
                  FROM generate_series(0, %s - 1) AS g) AS minute
            """,
            [alert.pk, MINUTES, MINUTES],
        )
        cursor.execute(
            """
            INSERT INTO alerts_execution (alert_id, scheduled_for, trigger, status, reason, started_at, finished_at,
                duration_ms, attempts, columns, preview, context, error, state_before, state_after, worker, task_id,
                truncated)
            SELECT %s, date_trunc('minute', now()) - g * interval '1 minute', 'schedule', 'OK', '',
                   date_trunc('minute', now()) - g * interval '1 minute' + interval '1 second',
                   date_trunc('minute', now()) - g * interval '1 minute' + interval '2 seconds', 1000, 1,
                   '[]'::jsonb, '[]'::jsonb, '{}'::jsonb, '', 'OK', 'OK', 'bench:1', '', false
            FROM generate_series(1, 60) AS g
            """,
            [other.pk],
        )
        cursor.execute("ANALYZE alerts_execution")
    print(f"created {Execution.objects.count():,} executions in {time.monotonic() - started:.0f} s")


def roll_up() -> None:
    from django.db import connection

    from alerts import rollups
    from alerts.models import ExecutionRollup, RollupProgress
    from alerts.stats import HOUR, floor_hour
    from django.utils import timezone

    ExecutionRollup.objects.all().delete()
    RollupProgress.objects.all().delete()
    clock = time.perf_counter()
    done = rollups.roll_up(max_seconds=3600)
    year = time.perf_counter() - clock
    clock = time.perf_counter()
    rollups.roll_up()
    idle = time.perf_counter() - clock
    hour = floor_hour(timezone.now()) - 2 * HOUR
    clock = time.perf_counter()
    rows = rollups.save(rollups.roll_hours(hour, hour + HOUR))
    one = time.perf_counter() - clock
    size = ExecutionRollup.objects.count()
    with connection.cursor() as cursor:  # autocommit: VACUUM may run; without it the deleted rows count too
        cursor.execute("VACUUM FULL ANALYZE alerts_executionrollup")
        cursor.execute("SELECT pg_total_relation_size('alerts_executionrollup')")
        disk = cursor.fetchone()[0]
    print(f"rolled up {done.hours:,} hours into {size:,} rows in {year:.1f} s ({disk / size:.0f} bytes a row "
          f"with its indexes); a pass with nothing new {idle * 1000:.1f} ms; one hour again ({rows} rows) "
          f"{one * 1000:.1f} ms")


def rollups_off(off: bool):
    """Hide the rollups from the statistics (rolled_until unset), or show them again."""
    from alerts.models import RollupProgress

    progress = RollupProgress.objects.get(pk=1)
    if off:
        rollups_off.saved = progress.rolled_until
        progress.rolled_until = None
    else:
        progress.rolled_until = rollups_off.saved
    progress.save(update_fields=["rolled_until"])


def time_stats(runs: int, now) -> list[tuple[str, float, float, int]]:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from alerts import stats
    from alerts.models import Alert

    alert = Alert.objects.get(name="minutely")
    # One end for every call, so the figures with and without rollups are of the same windows.
    calls = [(f"one alert, {label}", lambda span=span: stats.alert_stats(alert, stats.window(span, now=now), now))
             for label, span in WINDOWS]
    calls += [(f"overall, {label}", lambda span=span: stats.overall_stats(stats.window(span, now=now), now))
              for label, span in WINDOWS]
    results = []
    for label, call in calls:
        figures = call()  # warm-up: the index pages in shared buffers, as on a busy server
        times = []
        for _ in range(runs):
            with CaptureQueriesContext(connection) as queries:
                clock = time.perf_counter()
                figures = call()
                times.append((time.perf_counter() - clock) * 1000)
        results.append((label, statistics.median(times), max(times), len(queries.captured_queries)))
        print(f"  {label}: {figures.runs:,} runs, success {stats.percent(figures.success_rate)}, "
              f"p95 {figures.duration_p95_ms} ms, lag p95 {figures.fire_lag_p95_ms} ms, "
              f"firing {figures.firing_seconds:,.0f} s", flush=True)
    return results


def explain() -> None:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from alerts import stats
    from alerts.models import Alert

    with CaptureQueriesContext(connection) as queries:
        stats.alert_stats(Alert.objects.get(name="minutely"), stats.window(timedelta(days=365)))
    with connection.cursor() as cursor:
        for query in queries.captured_queries[1:]:  # after the alert's own row
            cursor.execute(f"EXPLAIN (ANALYZE, BUFFERS) {query['sql']}")
            print("\n".join(row[0] for row in cursor.fetchall()), "\n")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--rebuild", action="store_true")
    parser.add_argument("--explain", action="store_true")
    args = parser.parse_args()

    ensure_database(BENCH_URL)
    import django
    from django.core.management import call_command

    django.setup()
    call_command("migrate", verbosity=0)
    populate(args.rebuild)
    roll_up()
    if args.explain:
        explain()
    from django.utils import timezone

    now = timezone.now()
    print("\nfrom the raw rows alone:")
    rollups_off(True)
    try:
        raw = time_stats(args.runs, now)
    finally:
        rollups_off(False)
    print("\nwith the rollups:")
    results = time_stats(args.runs, now)
    print(f"\n{'call':22} {'raw median':>10} {'median ms':>10} {'max ms':>8} {'queries':>8}")
    for (label, median, worst, queries), before in zip(results, raw):
        flag = "" if median < BUDGET_MS or not label.startswith("one alert") else "  OVER BUDGET"
        print(f"{label:22} {before[1]:10.1f} {median:10.1f} {worst:8.1f} {queries:8d}{flag}")
    over = [r for r in results if r[0].startswith("one alert") and r[1] >= BUDGET_MS]
    print(f"\nbudget {BUDGET_MS} ms for one alert: {'all within' if not over else f'{len(over)} over'}")
    return 1 if over else 0


if __name__ == "__main__":
    sys.exit(main())
