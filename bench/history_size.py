"""What history costs on disk, before and after tiered retention (docs/operating.md, "The hidden cost
of history"; figures in docs/performance.md, "History size").

    .venv/bin/python bench/history_size.py [--rows 100000] [--explain]

In a scratch PostgreSQL database, inserts --rows executions of one trivial minutely alert
(`SELECT 42 AS value`, threshold 50: the row a real run records, with its JSON columns, worker and
task id) and measures pg_total_relation_size of the executions table (heap, TOAST and every index)
per row; rolls them up (alerts/rollups.py) and measures a rollup row the same way; then prunes
(alerts/retention.py) with the default settings and checks what stays. The history has a firing
of 10 runs every 1,000 minutes: 1 % of the runs are not OK and 0.1 % are recoveries (a state
change, notified), so 1.1 % of the runs beyond the raw window stay. From the measured sizes it
prints the disk a minutely alert takes per day, and what 1,000 and 10,000 of them hold once the
retention is in force: before (SENTINEL_RETENTION_DAYS=90 of every run) and after
(SENTINEL_RAW_HISTORY_DAYS=7 of every run, the runs worth keeping up to 90 days, 400 days of rollups).
--explain prints EXPLAIN (ANALYZE, BUFFERS) of retention's batch query for the plain OK runs once
the kept runs are all that is left beyond the raw window, with and without the partial index.

The database is BENCH_POSTGRES_URL (default postgresql://postgres@127.0.0.1:5432/sentinel_history_bench);
it is created when missing and never dropped; each run starts from empty tables.
"""

import argparse
import os
import sys
import time
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.admin_pages import ensure_database  # noqa: E402  (it sets its own DATABASE_URL: ours follows)

BENCH_URL = os.environ.get("BENCH_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/sentinel_history_bench")
os.environ["DATABASE_URL"] = BENCH_URL
os.environ.setdefault("SENTINEL_VAR_DIR", "/tmp/sentinel-bench-var")
os.environ["DJANGO_SETTINGS_MODULE"] = "sentinel_project.settings"
os.environ.setdefault("LOG_LEVEL", "WARNING")
# A scratch database on this machine, not a deployment: a key of its own is enough.
os.environ.setdefault("SECRET_KEY", "bench-history-scratch-key-not-for-deployments-0123456789abcdef")

RUNS_A_DAY = 24 * 60
FIRING_EVERY, FIRING_RUNS = 1000, 10  # minutes: 1 % not OK, 0.1 % recoveries
KEPT_SHARE = (FIRING_RUNS + 1) / FIRING_EVERY  # 1.1 %: what stays beyond the raw window
RETENTION_DAYS, RAW_DAYS, ROLLUP_DAYS = 90, 7, 400
GB = 1e9


def populate(rows: int) -> None:
    from django.db import connection

    from alerts.models import Alert, Channel, Datasource

    with connection.cursor() as cursor:
        cursor.execute("TRUNCATE alerts_deliveryattempt, alerts_notification, alerts_execution, "
                       "alerts_executionrollup, alerts_rollupprogress, alerts_alertstate, alerts_alert_channels, "
                       "alerts_alert CASCADE")
    ds, _ = Datasource.objects.get_or_create(name="warehouse", defaults={"url": "sqlite:////tmp/bench.sqlite3"})
    channel, _ = Channel.objects.get_or_create(name="ops", defaults={"kind": "log"})
    alert = Alert.objects.create(name="trivial", datasource=ds, query="SELECT 42 AS value", mode="threshold",
                                 threshold=50)
    with connection.cursor() as cursor:
        cursor.execute("VACUUM FULL alerts_execution")  # an empty table of zero pages: the sizes below are the rows'
    empty = table_bytes("alerts_execution")
    with connection.cursor() as cursor:
        # Minute g of the history, newest last: a firing of FIRING_RUNS ALERT runs at the end of every
        # FIRING_EVERY minutes, the run after it the recovery (FIRING -> OK), each of the two notified.
        cursor.execute(
            """
            INSERT INTO alerts_execution (alert_id, scheduled_for, trigger, status, reason, started_at, finished_at,
                duration_ms, attempts, actual_value, threshold, row_count, truncated, columns, preview, context, error,
                state_before, state_after, worker, task_id)
            SELECT %s, t, 'schedule', CASE WHEN firing THEN 'ALERT' ELSE 'OK' END, '',
                   t + interval '180 milliseconds', t + interval '212 milliseconds', 31.7, 1,
                   to_jsonb(CASE WHEN firing THEN 57 ELSE 42 END), '50'::jsonb, 1, false, '["value"]'::jsonb,
                   jsonb_build_array(jsonb_build_array(CASE WHEN firing THEN 57 ELSE 42 END)), '{}'::jsonb, '',
                   CASE WHEN g = 0 THEN '' WHEN (g - 1) %% %s >= %s - %s THEN 'FIRING' ELSE 'OK' END,
                   CASE WHEN firing THEN 'FIRING' ELSE 'OK' END,
                   'sentinel-worker-7d9f8c6b5-x2x4q:4711', gen_random_uuid()::text
            FROM (SELECT g, date_trunc('minute', now()) - (%s - g) * interval '1 minute' AS t,
                         g %% %s >= %s - %s AS firing
                  FROM generate_series(0, %s - 1) AS g) AS minute
            """,
            [alert.pk, FIRING_EVERY, FIRING_EVERY, FIRING_RUNS, rows, FIRING_EVERY, FIRING_EVERY, FIRING_RUNS, rows],
        )
        cursor.execute(
            """
            INSERT INTO alerts_notification (execution_id, alert_id, instance_key, channel_id, event, status, payload,
                attempts, last_error, created_at, sent_at)
            SELECT id, alert_id, '', %s, CASE WHEN status = 'ALERT' THEN 'firing' ELSE 'resolved' END, 'sent',
                   '{}'::jsonb, 1, '', finished_at, finished_at
            FROM alerts_execution WHERE state_before <> state_after AND state_before <> ''
            """,
            [channel.pk],
        )
        cursor.execute("ANALYZE alerts_execution")
        cursor.execute("ANALYZE alerts_notification")
    per_row = (table_bytes("alerts_execution") - empty) / rows
    print(f"{rows:,} executions of one minutely alert ({rows / RUNS_A_DAY:.1f} days): "
          f"{per_row:.0f} bytes a row with its indexes")
    for name, size in index_bytes("alerts_execution"):
        print(f"  {name:36} {size / rows:6.1f} bytes a row")
    return per_row


def table_bytes(table: str) -> int:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_total_relation_size(%s)", [table])
        return cursor.fetchone()[0]


def index_bytes(table: str) -> list[tuple[str, int]]:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT indexrelid::regclass::text, pg_relation_size(indexrelid) FROM pg_index "
                       "WHERE indrelid = %s::regclass ORDER BY 1", [table])
        return cursor.fetchall()


def roll_up() -> float:
    from alerts import rollups
    from alerts.models import ExecutionRollup

    started = time.monotonic()
    while not rollups.roll_up(max_seconds=600).finished:
        pass
    n = ExecutionRollup.objects.count()
    per_row = table_bytes("alerts_executionrollup") / n
    print(f"rolled up into {n:,} hourly rollups in {time.monotonic() - started:.1f} s: "
          f"{per_row:.0f} bytes a rollup row with its index")
    return per_row


def prune(rows: int) -> None:
    from django.utils import timezone

    from alerts import retention
    from alerts.models import Execution

    now = timezone.now()
    raw_from = now - timedelta(days=RAW_DAYS)
    beyond = Execution.objects.filter(scheduled_for__lt=raw_from).count()
    started, cpu = time.monotonic(), time.process_time()
    pruned = retention.prune(now=now, max_seconds=3600)
    took, cpu = time.monotonic() - started, time.process_time() - cpu
    kept = Execution.objects.filter(scheduled_for__lt=raw_from).count()
    print(f"pruned with the defaults (raw {RAW_DAYS} d, retention {RETENTION_DAYS} d): {pruned.executions:,} plain OK "
          f"runs deleted in {took:.1f} s ({pruned.executions / took:,.0f} a second, Python CPU {cpu:.1f} s); "
          f"beyond the raw window {kept:,} of {beyond:,} runs kept ({kept / beyond:.2%}), "
          f"inside it all {Execution.objects.filter(scheduled_for__gte=raw_from).count():,}")


def filler(alerts: int = 99, runs: int = RAW_DAYS * RUNS_A_DAY) -> int:
    """Other alerts' raw windows around the one explained, so its rows are 1 % of the table as
    among 100 alerts (with one alert's rows the whole table, PostgreSQL rightly scans it all)."""
    from django.db import connection

    from alerts.models import Alert

    first = Alert.objects.get(name="trivial")
    made = Alert.objects.bulk_create([Alert(name=f"other-{i}", datasource=first.datasource, query=first.query,
                                            mode=first.mode, threshold=first.threshold) for i in range(alerts)])
    with connection.cursor() as cursor:
        cursor.execute(
            """
            INSERT INTO alerts_execution (alert_id, scheduled_for, trigger, status, reason, started_at, finished_at,
                duration_ms, attempts, actual_value, threshold, row_count, truncated, columns, preview, context, error,
                state_before, state_after, worker, task_id)
            SELECT a, t, 'schedule', 'OK', '', t, t, 31.7, 1, '42'::jsonb, '50'::jsonb, 1, false, '["value"]'::jsonb,
                   '[[42]]'::jsonb, '{}'::jsonb, '', 'OK', 'OK', '', ''
            FROM unnest(%s::bigint[]) AS a,
                 LATERAL (SELECT date_trunc('minute', now()) - g * interval '1 minute' AS t
                          FROM generate_series(0, %s - 1) AS g) AS minute
            """,
            [[a.pk for a in made], runs],
        )
        cursor.execute("VACUUM ANALYZE alerts_execution")
    return len(made)


def explain() -> None:
    from django.db import connection, transaction
    from django.db.models import Q
    from django.utils import timezone

    from alerts import retention
    from alerts.models import Alert, Execution, RollupProgress

    alert = Alert.objects.get(name="trivial")
    others = filler()
    progress = RollupProgress.objects.get(pk=1)
    latest = Execution.objects.filter(alert=alert).order_by("-scheduled_for").values_list("pk", flat=True).first()
    rows = (retention.plain_runs().filter(alert=alert, scheduled_for__lt=min(
        retention.raw_cutoff_for(alert, timezone.now()), progress.rolled_until)).exclude(pk=latest)
        .filter(Q(finished_at__lt=progress.checked_until) | Q(finished_at__isnull=True)).order_by("scheduled_for")
        .values_list("pk", flat=True)[:500])
    sql, params = rows.query.sql_with_params()
    for label, drop in (("with the partial index", False), ("without it", True)):
        with transaction.atomic():
            with connection.cursor() as cursor:
                if drop:
                    cursor.execute("DROP INDEX IF EXISTS execution_plain_ok_by_alert")
                cursor.execute("EXPLAIN (ANALYZE, BUFFERS) " + sql, params)
                print(f"\nretention's batch query for plain OK runs of one alert among {others + 1}, {label}:")
                print("\n".join(line for (line,) in cursor.fetchall()))
            transaction.set_rollback(True)


def figures(row: float, rollup: float, plain_index: float) -> None:
    """Disk held once each setting's retention is in force, per minutely alert and at scale.
    `row`: bytes a run of the sample takes, `plain_index` of them in the plain OK runs' index."""
    print(f"\nassumed: 1 % of runs not OK, firings of {FIRING_RUNS} runs (0.1 % recoveries): "
          f"{KEPT_SHARE:.1%} of runs kept beyond the raw window")
    # The partial index holds the plain OK runs only: those of the raw window (the measured row has them).
    kept_row = row - plain_index
    print(f"a run: {row:.0f} bytes in the raw window, {kept_row:.0f} kept beyond it (and before the tiers: no "
          f"plain OK runs' index); a rollup row: {rollup:.0f} bytes")
    print(f"one minutely alert a day: {RUNS_A_DAY * row / 1e6:.2f} MB of runs in the raw window, "
          f"{RUNS_A_DAY * KEPT_SHARE * kept_row / 1e3:.1f} kB kept beyond it, {24 * rollup / 1e3:.1f} kB of rollups "
          f"(before: {RUNS_A_DAY * kept_row / 1e6:.2f} MB kept {RETENTION_DAYS} d)")
    before = RETENTION_DAYS * RUNS_A_DAY * kept_row
    raw = RAW_DAYS * RUNS_A_DAY * row
    kept = (RETENTION_DAYS - RAW_DAYS) * RUNS_A_DAY * KEPT_SHARE * kept_row
    rolled = ROLLUP_DAYS * 24 * rollup
    after = raw + kept + rolled
    print(f"held by one alert: before {before / GB:.3f} GB ({RETENTION_DAYS} d of every run); after "
          f"{after / GB:.3f} GB ({raw / GB:.3f} raw {RAW_DAYS} d + {kept / GB:.3f} kept to {RETENTION_DAYS} d + "
          f"{rolled / GB:.3f} rollups {ROLLUP_DAYS} d)")
    print(f"\n{'minutely alerts':>16} {'before GB':>10} {'after GB':>9} {'rows before':>14} {'rows after':>13} "
          f"{'rollup rows':>12}")
    for alerts in (1_000, 10_000):
        rows_before = alerts * RETENTION_DAYS * RUNS_A_DAY
        rows_after = alerts * RUNS_A_DAY * (RAW_DAYS + (RETENTION_DAYS - RAW_DAYS) * KEPT_SHARE)
        print(f"{alerts:16,} {alerts * before / GB:10,.0f} {alerts * after / GB:9,.0f} {rows_before:14,.0f} "
              f"{rows_after:13,.0f} {alerts * ROLLUP_DAYS * 24:12,}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--explain", action="store_true")
    args = parser.parse_args()

    ensure_database(BENCH_URL)
    import django
    from django.core.management import call_command

    django.setup()
    call_command("migrate", verbosity=0)
    row = populate(args.rows)
    plain_index = dict(index_bytes("alerts_execution")).get("execution_plain_ok_by_alert", 0) / args.rows
    rollup = roll_up()
    prune(args.rows)
    if args.explain:
        explain()
    figures(row, rollup, plain_index)
    return 0


if __name__ == "__main__":
    sys.exit(main())
