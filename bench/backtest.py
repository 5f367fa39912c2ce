"""A backtest of a minutely alert over 7 days (10,080 ticks) on PostgreSQL, and what it does to the
scheduled runs' fire lag on the same machine (docs/performance.md, "Backtests").

    .venv/bin/python bench/backtest.py [--days 7] [--lag-seconds 60] [--no-lag]

1. In the scratch database BENCH_POSTGRES_URL (default
   postgresql://postgres@127.0.0.1:5432/sentinel_backtest_bench, created when missing) a table of
   events: --per-minute rows a minute (with a burst of 10x every 6 hours) over the span, indexed
   on created_at. Sentinel's own database is BENCH_SENTINEL_URL (default ..._sentinel, created
   when missing, migrated, emptied of alerts at each run): a datasource may not reach it.
2. A minutely tick-bound alert counts the events of its window (threshold: 3x the usual count,
   pending 2, a 1-hour re-notify). Its backtest over --days runs as the worker's task does
   (alerts.backtest.run on a Backtest row): wall time, the datasource time it used (the sum of
   its query durations), per tick, and the size of its stored result.
3. Unless --no-lag: a plain `celery worker` (no -Q, every queue) and `celery beat` with
   --lag-alerts alerts every 10 s; the fire lag (execution start - tick) of their runs over
   --lag-seconds without a backtest, then while the same backtest runs on that worker (queued on
   "backtests" through alerts.dispatch). Redis: BENCH_REDIS_URL (default redis://127.0.0.1:6379/9).
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from datetime import datetime, timedelta
from datetime import timezone as tz
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.admin_pages import ensure_database  # noqa: E402  (it sets its own DATABASE_URL: ours follows)

EVENTS_URL = os.environ.get("BENCH_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/sentinel_backtest_bench")
SENTINEL_URL = os.environ.get("BENCH_SENTINEL_URL", EVENTS_URL + "_sentinel")
REDIS_URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/9")
os.environ["DATABASE_URL"] = SENTINEL_URL
os.environ["REDIS_URL"] = REDIS_URL
os.environ.setdefault("SENTINEL_VAR_DIR", "/tmp/sentinel-bench-backtest-var")
os.environ["DJANGO_SETTINGS_MODULE"] = "sentinel_project.settings"
os.environ.setdefault("LOG_LEVEL", "WARNING")
# A scratch database on this machine, not a deployment: a key of its own is enough.
os.environ.setdefault("SECRET_KEY", "bench-backtest-scratch-key-not-for-deployments-0123456789abcdef")
CELERY = str(Path(sys.executable).parent / "celery")

QUERY = """SELECT CASE WHEN count(*) > {limit} THEN 'ALERT' ELSE 'OK' END AS status,
       count(*) AS actual_value, {limit} AS threshold
FROM events
WHERE created_at >= :window_start AND created_at < :window_end"""


def make_events(start: datetime, end: datetime, per_minute: int) -> int:
    import psycopg2

    conn = psycopg2.connect(EVENTS_URL)
    conn.autocommit = True
    with conn.cursor() as cursor:
        cursor.execute("DROP TABLE IF EXISTS events")
        cursor.execute("CREATE TABLE events (created_at timestamptz NOT NULL, amount int NOT NULL)")
        # per_minute rows each minute, 10x in the first 10 minutes of every 6 hours (a burst to fire on).
        cursor.execute(
            """INSERT INTO events
               SELECT m + (i * interval '1 second' * 60 / n), i
               FROM generate_series(%s::timestamptz, %s::timestamptz, interval '1 minute') AS m,
                    LATERAL (SELECT CASE WHEN extract(epoch FROM m)::bigint %% 21600 < 600 THEN %s * 10 ELSE %s END
                             AS n) AS k,
                    LATERAL generate_series(0, k.n - 1) AS i""", [start, end, per_minute, per_minute])
        cursor.execute("CREATE INDEX ON events (created_at)")
        cursor.execute("ANALYZE events")
        cursor.execute("SELECT count(*) FROM events")
        rows = cursor.fetchone()[0]
    conn.close()
    return rows


def setup_sentinel():
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    from alerts.models import Alert, Backtest, Datasource

    Backtest.objects.all().delete()
    Alert.objects.all().delete()
    Datasource.objects.filter(name="events").delete()
    return Datasource.objects.create(name="events", url=EVENTS_URL, timeout_seconds=30)


def backtest_once(source, start: datetime, end: datetime, limit: int) -> dict:
    from alerts import backtest
    from alerts.models import Alert, Backtest
    from schedules.models import Schedule

    minutely = Schedule.objects.for_timing(cron="* * * * *", timezone="UTC")
    alert, _ = Alert.objects.update_or_create(name="events_burst", defaults=dict(
        datasource=source, query=QUERY.format(limit=limit), schedule=minutely, pending_evaluations=2,
        renotify_interval=timedelta(hours=1), enabled=False))  # disabled: beat does not run it
    # The row backtest.start makes, without queueing it: this process runs it as the task would.
    row = Backtest.objects.create(alert=alert, name=alert.name, definition=backtest.definition_of(alert, []),
                                  start=start, end=end,
                                  ticks_total=len(backtest.ticks_between(alert.schedule, start, end)))
    started = time.monotonic()
    backtest.run(row.pk)
    wall = time.monotonic() - started
    row.refresh_from_db()
    summary = row.result["summary"]
    return {"status": row.status, "ticks": summary["ticks"], "wall_s": round(wall, 2),
            "datasource_s": round(summary["query_ms"] / 1000, 2),
            "ms_per_tick": round(wall * 1000 / summary["ticks"], 2),
            "datasource_ms_per_tick": round(summary["query_ms"] / summary["ticks"], 2),
            "fired": summary["fired"], "resolved": summary["resolved"], "by_status": summary["by_status"],
            "result_kb": round(len(json.dumps(row.result)) / 1024)}


def lag_alerts(source, count: int):
    from alerts.models import Alert
    from schedules.models import Schedule

    every_10s = Schedule.objects.for_timing(interval_seconds=10, timezone="UTC")
    for i in range(count):
        Alert.objects.create(name=f"lag_{i}", datasource=source, schedule=every_10s,
                             query="SELECT count(*) AS actual_value, 'OK' AS status FROM events "
                                   "WHERE created_at >= :window_start AND created_at < :window_end")


def lags(since: datetime, until: datetime) -> list[float]:
    from alerts.models import Execution

    runs = Execution.objects.filter(alert__name__startswith="lag_", scheduled_for__gte=since,
                                    scheduled_for__lt=until, trigger="schedule")
    return [(e.started_at - e.scheduled_for).total_seconds() for e in runs if e.started_at]


def described(values: list[float]) -> str:
    if not values:
        return "no runs"
    values = sorted(values)
    p95 = values[min(len(values) - 1, int(round(0.95 * (len(values) - 1))))]
    return (f"{len(values)} runs, p50 {statistics.median(values) * 1000:.0f} ms, p95 {p95 * 1000:.0f} ms, "
            f"max {values[-1] * 1000:.0f} ms")


def measure_lag(source, args, start, end, limit) -> dict:
    from django.db import close_old_connections

    from alerts import backtest
    from alerts.models import Alert, Backtest, Execution

    import redis

    redis.Redis.from_url(REDIS_URL).delete("schedules", "alerts", "notifications", "backtests")  # older runs' messages
    lag_alerts(source, args.lag_alerts)  # saved, so the signal gives their schedule a beat entry
    env = {**os.environ}
    var = Path(os.environ["SENTINEL_VAR_DIR"])
    var.mkdir(parents=True, exist_ok=True)
    worker = subprocess.Popen([CELERY, "-A", "sentinel_project", "worker", "-l", "WARNING", "-n", "bench-bt@%h",
                               "--without-gossip", "--without-mingle"], cwd=ROOT, env=env,
                              stdout=open(var / "worker.log", "w"), stderr=subprocess.STDOUT)
    beat = subprocess.Popen([CELERY, "-A", "sentinel_project", "beat", "-l", "WARNING",
                             "--pidfile", str(var / "beat.pid"), "-s", str(var / "beat-schedule")],
                            cwd=ROOT, env=env, stdout=open(var / "beat.log", "w"), stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 90
        while not Execution.objects.filter(alert__name__startswith="lag_").exists():
            if time.monotonic() > deadline:
                raise SystemExit(f"no scheduled run in 90 s: see {var}/worker.log and {var}/beat.log")
            time.sleep(1)
        time.sleep(12)  # warm-up: the worker's pools are open
        quiet_from = datetime.now(tz.utc)
        time.sleep(args.lag_seconds)
        quiet_to = datetime.now(tz.utc)
        alert = Alert.objects.get(name="events_burst")
        row = backtest.start(alert, [], start, end, saved=alert)  # autocommit: queued on "backtests" now
        busy_from = datetime.now(tz.utc)
        deadline = time.monotonic() + 3600
        while True:
            close_old_connections()
            row.refresh_from_db()
            if row.status not in ("queued", "running") or time.monotonic() > deadline:
                break
            time.sleep(1)
        busy_to = datetime.now(tz.utc)
        time.sleep(12)  # the runs of the last ticks finish
        summary = (row.result or {}).get("summary", {})
        return {"quiet": described(lags(quiet_from, quiet_to)), "during": described(lags(busy_from, busy_to)),
                "backtest_on_worker": f"{row.status}, {(busy_to - busy_from).total_seconds():.1f} s, "
                                      f"datasource {summary.get('query_ms', 0) / 1000:.1f} s",
                "missed_during": Execution.objects.filter(alert__name__startswith="lag_", status="MISSED",
                                                          scheduled_for__gte=busy_from,
                                                          scheduled_for__lt=busy_to).count()}
    finally:
        for process in (beat, worker):
            process.terminate()
        for process in (beat, worker):
            try:
                process.wait(30)
            except subprocess.TimeoutExpired:
                process.kill()
        Backtest.objects.all().delete()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--days", type=int, default=7)
    parser.add_argument("--per-minute", type=int, default=20)
    parser.add_argument("--lag-alerts", type=int, default=5)
    parser.add_argument("--lag-seconds", type=int, default=60)
    parser.add_argument("--no-lag", action="store_true")
    args = parser.parse_args()
    ensure_database(EVENTS_URL)
    ensure_database(SENTINEL_URL)
    now = datetime.now(tz.utc).replace(second=0, microsecond=0)
    start, end = now - timedelta(days=args.days) + timedelta(minutes=1), now  # 1,440 x days ticks exactly
    started = time.monotonic()
    rows = make_events(start - timedelta(minutes=1), end, args.per_minute)
    print(f"events: {rows:,} rows over {args.days} d in {time.monotonic() - started:.1f} s")
    source = setup_sentinel()
    figures = backtest_once(source, start, end, limit=args.per_minute * 3)
    print("backtest:", json.dumps(figures))
    if not args.no_lag:
        print("fire lag:", json.dumps(measure_lag(source, args, start, end, args.per_minute * 3)))


if __name__ == "__main__":
    main()
