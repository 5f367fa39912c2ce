"""Time the admin's busiest pages against real volumes in PostgreSQL.

    .venv/bin/python bench/admin_pages.py [--alerts 10000] [--executions 1000000] [--rebuild] [--runs 7]

Creates (once; --rebuild to start over) a database holding 10,000 alerts, 1,000,000
executions and 50,000 notifications, then requests each page with Django's test
client and prints the server time (handler in, response out: queries and
template rendering, no network) and the number of SQL queries per page.

The database is BENCH_POSTGRES_URL (default postgresql://postgres@127.0.0.1:5432/sentinel_admin_bench);
it is created when missing and never dropped.
"""

import argparse
import os
import statistics
import sys
import time
from pathlib import Path
from urllib.parse import urlparse

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

BENCH_URL = os.environ.get("BENCH_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/sentinel_admin_bench")
os.environ["DATABASE_URL"] = BENCH_URL
# A deployment (DATABASE_URL set) refuses to start without a key of its own (docs/security.md §8).
os.environ.setdefault("SECRET_KEY", "bench-scratch-key-not-for-deployments-0123456789abcdefghij")
os.environ.setdefault("SENTINEL_SQLITE_DIRS", "/tmp")
os.environ.setdefault("ALLOWED_HOSTS", "testserver,localhost")
os.environ.setdefault("SENTINEL_VAR_DIR", "/tmp/sentinel-bench-var")
os.environ["DJANGO_SETTINGS_MODULE"] = "sentinel_project.settings"
os.environ.setdefault("LOG_LEVEL", "WARNING")

BUDGET_MS = 500


def ensure_database(url: str) -> None:
    import psycopg2

    parsed = urlparse(url)
    name = parsed.path.lstrip("/")
    admin = psycopg2.connect(host=parsed.hostname, port=parsed.port or 5432, user=parsed.username or "postgres",
                             password=parsed.password, dbname="postgres")
    admin.autocommit = True
    with admin.cursor() as cursor:
        cursor.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name])
        if cursor.fetchone() is None:
            cursor.execute(f'CREATE DATABASE "{name}"')
    admin.close()


def populate(alerts: int, executions: int, rebuild: bool) -> None:
    from django.db import connection

    from alerts.models import Alert, Channel, Datasource, Execution
    from schedules.models import Schedule

    if not rebuild and Alert.objects.count() == alerts and Execution.objects.count() >= executions:
        print(f"data in place: {alerts} alerts, {Execution.objects.count()} executions")
        return
    started = time.monotonic()
    with connection.cursor() as cursor:
        cursor.execute("TRUNCATE alerts_deliveryattempt, alerts_notification, alerts_execution, alerts_alertstate, "
                       "alerts_alert_channels, alerts_alert CASCADE")
    ds, _ = Datasource.objects.get_or_create(name="warehouse", defaults={"url": "sqlite:////tmp/bench.sqlite3"})
    channel, _ = Channel.objects.get_or_create(name="oncall", defaults={"kind": "log"})
    schedules = []
    for i, (cron, tz) in enumerate([("*/5 * * * *", "UTC"), ("0 * * * *", "Europe/Berlin"),
                                    ("0 9 * * *", "America/New_York"), ("*/15 * * * *", "Asia/Tokyo")]):
        schedule, _ = Schedule.objects.get_or_create(cron=cron, timezone=tz)
        schedules.append(schedule.pk)
    with connection.cursor() as cursor:
        # Set-based inserts: a million ORM objects would time the generator, not the admin.
        cursor.execute(
            """
            INSERT INTO alerts_alert (name, description, enabled, severity, datasource_id, query, schedule_id, mode,
                value_column, operator, threshold, key_columns, pending_evaluations, notify_on_recovery, on_no_data,
                on_error, subject_template, body_template, silence_reason, silenced_by, silenced_until, state,
                state_since, last_run_at, last_status, last_value, firing_instances, source_file, created_at, updated_at)
            SELECT 'alert-' || lpad(g::text, 5, '0'), 'Bench alert ' || g, g %% 50 <> 0,
                   (ARRAY['info','warning','critical'])[1 + g %% 3], %s,
                   'SELECT count(*) AS value FROM orders_' || g || ' WHERE stuck', (%s::bigint[])[1 + g %% %s],
                   'threshold', '', '>', 50, CASE WHEN g %% 10 = 0 THEN 'host' ELSE '' END, 1, true, 'no_data',
                   'error', '', '', CASE WHEN g %% 40 = 0 THEN 'maintenance' ELSE '' END, '',
                   CASE WHEN g %% 40 = 0 THEN now() + interval '2 hours' END,
                   (ARRAY['OK','OK','OK','OK','OK','OK','FIRING','PENDING','NO_DATA','ERROR'])[1 + g %% 10],
                   now() - (g %% 300) * interval '1 minute', now() - (g %% 5) * interval '1 minute',
                   'OK', to_jsonb(round((random() * 100)::numeric, 2)), CASE WHEN g %% 10 = 0 THEN 3 ELSE 0 END,
                   '', now(), now()
            FROM generate_series(1, %s) AS g
            """,
            [ds.pk, schedules, len(schedules), alerts],
        )
        cursor.execute("SELECT min(id) FROM alerts_alert")
        first = cursor.fetchone()[0]
        per_alert = max(1, executions // alerts)
        cursor.execute(
            """
            INSERT INTO alerts_execution (alert_id, scheduled_for, trigger, status, reason, started_at, finished_at,
                duration_ms, attempts, actual_value, threshold, row_count, truncated, columns, preview, context, error,
                state_before, state_after, worker, task_id)
            SELECT %s + (g %% %s), date_trunc('minute', now()) - (g / %s) * interval '5 minutes', 'schedule',
                   (ARRAY['OK','OK','OK','OK','OK','OK','OK','ALERT','ALERT','ERROR'])[1 + (g / 7) %% 10], '',
                   date_trunc('minute', now()) - (g / %s) * interval '5 minutes' + interval '1.2 seconds',
                   date_trunc('minute', now()) - (g / %s) * interval '5 minutes' + interval '1.3 seconds',
                   45.5, 1, to_jsonb(round((random() * 100)::numeric, 2)), '50'::jsonb, 1, false,
                   '["value"]'::jsonb, '[[42]]'::jsonb, '{}'::jsonb,
                   CASE WHEN (g / 7) %% 10 = 9 THEN 'relation "orders" does not exist' ELSE '' END,
                   'OK', 'OK', 'bench:1', ''
            FROM generate_series(0, %s - 1) AS g
            """,
            [first, alerts, alerts, alerts, alerts, per_alert * alerts],
        )
        cursor.execute(
            """
            INSERT INTO alerts_notification (execution_id, alert_id, instance_key, channel_id, event, status, payload,
                attempts, last_error, sent_at, created_at)
            SELECT id, alert_id, '', %s, 'firing', 'sent', '{}'::jsonb, 1, '', started_at, started_at
            FROM alerts_execution WHERE status = 'ALERT' ORDER BY id LIMIT 50000
            """,
            [channel.pk],
        )
        cursor.execute("ANALYZE")
    print(f"created {alerts} alerts and {Execution.objects.count()} executions in {time.monotonic() - started:.0f} s")


def time_pages(runs: int) -> list[tuple[str, float, float, int]]:
    from django.contrib.auth.models import User
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    from alerts.models import Alert, Execution

    user = User.objects.filter(username="bench").first() or User.objects.create_superuser("bench", "", "bench")
    client = Client()
    client.force_login(user)
    alert = Alert.objects.order_by("id")[5000]
    execution = Execution.objects.filter(alert=alert).order_by("-scheduled_for").first()
    pages = [
        ("alerts list", "/admin/alerts/alert/"),
        ("alerts list, state=FIRING", "/admin/alerts/alert/?state=FIRING"),
        ("alerts list, search", "/admin/alerts/alert/?q=orders_77"),
        ("alerts list, page 100", "/admin/alerts/alert/?p=100"),
        ("alert page (history, chart)", f"/admin/alerts/alert/{alert.pk}/change/"),
        ("executions list", "/admin/alerts/execution/"),
        ("executions list, status=ERROR", "/admin/alerts/execution/?status__exact=ERROR"),
        ("executions list, one alert", f"/admin/alerts/execution/?alert={alert.pk}"),
        ("executions list, last 24 h", "/admin/alerts/execution/?when=24h"),
        ("executions list, page 50", "/admin/alerts/execution/?p=50"),
        ("execution page", f"/admin/alerts/execution/{execution.pk}/change/"),
        ("notifications list", "/admin/alerts/notification/"),
    ]
    results = []
    for label, url in pages:
        response = client.get(url)  # warm-up: caches, connection, compiled templates
        assert response.status_code == 200, (url, response.status_code)
        times = []
        for _ in range(runs):
            with CaptureQueriesContext(connection) as queries:
                clock = time.perf_counter()
                response = client.get(url)
                times.append((time.perf_counter() - clock) * 1000)
            assert response.status_code == 200, (url, response.status_code)
        results.append((label, statistics.median(times), max(times), len(queries.captured_queries)))
    return results


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--alerts", type=int, default=10_000)
    parser.add_argument("--executions", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--rebuild", action="store_true")
    args = parser.parse_args()

    ensure_database(BENCH_URL)
    import django
    from django.core.management import call_command

    django.setup()
    call_command("migrate", verbosity=0)
    populate(args.alerts, args.executions, args.rebuild)
    results = time_pages(args.runs)
    print(f"\n{'page':34} {'median ms':>10} {'max ms':>8} {'queries':>8}")
    for label, median, worst, queries in results:
        flag = "" if worst < BUDGET_MS else "  OVER BUDGET"
        print(f"{label:34} {median:10.0f} {worst:8.0f} {queries:8d}{flag}")
    over = [r for r in results if r[2] >= BUDGET_MS]
    print(f"\nbudget {BUDGET_MS} ms per page: {'all within' if not over else f'{len(over)} over'}")
    return 1 if over else 0


if __name__ == "__main__":
    sys.exit(main())
