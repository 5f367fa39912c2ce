"""Time one per-entity alert whose query returns 100,000 keys.

    .venv/bin/python bench/instances.py [--keys 100000] [--runs 3] [--own-db postgres|sqlite] [--profile]

The datasource is a SQLite file in a scratch var dir (SENTINEL_VAR_DIR, default
/tmp/sentinel-instances-bench-var) holding one row per key; the alert is a threshold alert
(`SELECT key, value FROM readings`, value > 1000) with no channel, run by hand (runner.run), one
tick a minute apart. It prints the median of --runs for:

- the bare query: `run_query` alone (Sentinel's read-only query runner, rows fetched and made
  JSON-safe), before the runs and between the no-change runs (the "x bare" columns divide by
  the latter: the same process, the same heap), and evaluation alone (rows -> outcomes);
- the first run (every instance is new);
- a run with no change (the same rows again);
- a run where 1% of the keys start firing, runs with no change while they fire, two runs a
  minute apart where every value moved (no state did), and the run where they recover. Between two runs the
  firing instances' write time is moved back a minute, to stand for the minute between two
  ticks (what their value refresh looks at);

with the number of instance rows each run wrote, in wall time and in this process's CPU time
(the worker's own share, which other load on the machine stretches less; PostgreSQL's share is
not in it). --profile prints cProfile's top functions of a no-change run.

Sentinel's own database is PostgreSQL, BENCH_POSTGRES_URL (default
postgresql://postgres@127.0.0.1:5432/sentinel_instances_bench, created when missing, never dropped),
or with --own-db sqlite a file in the scratch var dir.
"""

import argparse
import os
import sqlite3
import statistics
import sys
import time
from datetime import datetime, timedelta, timezone as tz
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

BENCH_URL = os.environ.get("BENCH_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/sentinel_instances_bench")
VAR = Path(os.environ.setdefault("SENTINEL_VAR_DIR", "/tmp/sentinel-instances-bench-var"))
os.environ["DJANGO_SETTINGS_MODULE"] = "sentinel_project.settings"
os.environ.setdefault("LOG_LEVEL", "WARNING")
# A scratch database on this machine, not a deployment: a key of its own is enough.
os.environ.setdefault("SECRET_KEY", "bench-instances-scratch-key-not-for-deployments-0123456789abcdef")

NAME = "instances-bench"
THRESHOLD = 1000
T0 = datetime(2026, 12, 1, 9, 0, tzinfo=tz.utc)


def make_source(keys: int) -> Path:
    """One row per key, every value under the threshold (all instances OK)."""
    path = VAR / "datasources" / "instances.sqlite3"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.unlink(missing_ok=True)
    with sqlite3.connect(path) as conn:
        conn.execute("CREATE TABLE readings (key TEXT PRIMARY KEY, value INTEGER)")
        conn.executemany("INSERT INTO readings VALUES (?, ?)", ((f"host-{i:06d}", i % 900) for i in range(keys)))
    return path


def change_source(path: Path, sql: str) -> None:
    with sqlite3.connect(path) as conn:
        conn.execute(sql)


def make_alert(path: Path, keys: int):
    from alerts.models import Alert, AlertState, Datasource, Execution

    old = Alert.objects.filter(name=NAME).first()
    if old is not None:
        AlertState.objects.filter(alert=old).delete()
        Execution.objects.filter(alert=old).delete()
        old.delete()
    ds, _ = Datasource.objects.update_or_create(
        name="instances-bench-source", defaults={"url": f"sqlite:///{path}", "row_limit": keys, "timeout_seconds": 60})
    return Alert.objects.create(name=NAME, datasource=ds, query="SELECT key, value FROM readings", mode="threshold",
                                operator=">", threshold=THRESHOLD)


class Clock:
    """Ticks a minute apart, so each run is its own execution."""

    def __init__(self):
        self.minute = 0

    def next(self) -> datetime:
        self.minute += 1
        return T0 + timedelta(minutes=self.minute)


def timed_run(alert, clock: Clock) -> tuple[float, float, int]:
    """(wall seconds, this process's CPU seconds, instance rows written) of one run."""
    from django.utils import timezone

    from alerts import runner
    from alerts.models import AlertState, Trigger

    before = timezone.now()
    started, cpu = time.perf_counter(), time.process_time()
    runner.run(alert, clock.next(), Trigger.MANUAL)
    seconds, cpu = time.perf_counter() - started, time.process_time() - cpu
    return seconds, cpu, AlertState.objects.filter(alert=alert, updated_at__gte=before).count()


def a_minute_passes(alert) -> None:
    """Stand for the minute between two ticks: the instances that are not OK (the only ones whose value
    a run may refresh, alerts/recording.py) were last written a minute earlier. Only those: moving all
    100,000 rows would leave the table bloated, and the next runs would time that."""
    from django.db.models import F

    from alerts.models import AlertState, State

    AlertState.objects.filter(alert=alert).exclude(state=State.OK).update(
        updated_at=F("updated_at") - timedelta(minutes=1))


def settle() -> None:
    """What autovacuum does after a big insert, so each run starts from the same table."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE alerts_alertstate" if connection.vendor == "postgresql" else "ANALYZE")


def median_of(runs: int, call) -> tuple[float, float, int]:
    results = [call() for _ in range(runs)]
    return statistics.median(r[0] for r in results), statistics.median(r[1] for r in results), max(r[2] for r in results)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--keys", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--own-db", choices=["postgres", "sqlite"], default="postgres")
    parser.add_argument("--profile", action="store_true")
    args = parser.parse_args()

    if args.own_db == "postgres":
        from bench.admin_pages import ensure_database

        ensure_database(BENCH_URL)
        os.environ["DATABASE_URL"] = BENCH_URL
    else:
        os.environ["DATABASE_URL"] = f"sqlite:///{VAR / 'sentinel.sqlite3'}"
    import django
    from django.core.management import call_command

    django.setup()
    call_command("migrate", verbosity=0)
    from alerts.evaluation import Rule, evaluate
    from alerts.models import AlertState, State
    from alerts.querying import run_query

    path = make_source(args.keys)
    alert = make_alert(path, args.keys)
    clock = Clock()
    print(f"{args.keys:,} keys; Sentinel's database: {args.own_db}; code: {ROOT}")

    def bare():
        started, cpu = time.perf_counter(), time.process_time()
        result = run_query(alert.datasource, alert.query)
        assert len(result.rows) == args.keys and not result.truncated
        return time.perf_counter() - started, time.process_time() - cpu, 0

    def evaluation():
        result = run_query(alert.datasource, alert.query)
        started, cpu = time.perf_counter(), time.process_time()
        evaluate(Rule.of(alert), result.columns, result.rows)
        return time.perf_counter() - started, time.process_time() - cpu, 0

    figures = [("bare query (run_query)", *median_of(args.runs, bare)),
               ("evaluation alone", *median_of(args.runs, evaluation))]
    figures.append(("first run (all new)", *timed_run(alert, clock)))
    settle()

    between = []

    def unchanged():
        between.append(bare())  # the bare query again, in the same process state as the runs
        a_minute_passes(alert)
        return timed_run(alert, clock)

    figures.append(("no change", *median_of(args.runs, unchanged)))
    figures.insert(1, ("bare query, between those runs", statistics.median(b[0] for b in between),
                       statistics.median(b[1] for b in between), 0))
    if args.profile:
        import cProfile
        import pstats

        a_minute_passes(alert)
        profile = cProfile.Profile()
        profile.runcall(timed_run, alert, clock)
        pstats.Stats(profile).sort_stats("tottime").print_stats(25)

    a_minute_passes(alert)
    change_source(path, f"UPDATE readings SET value = {THRESHOLD + 500} WHERE rowid % 100 = 0")
    figures.append(("1% start firing", *timed_run(alert, clock)))
    firing = AlertState.objects.filter(alert=alert, state=State.FIRING).count()
    alert.refresh_from_db()
    assert firing == args.keys // 100 == alert.firing_instances, (firing, alert.firing_instances)
    figures.append(("no change, 1% firing", *median_of(args.runs, unchanged)))
    a_minute_passes(alert)
    change_source(path, "UPDATE readings SET value = value + 1")
    figures.append(("every value moved, 1% firing", *timed_run(alert, clock)))
    a_minute_passes(alert)
    change_source(path, "UPDATE readings SET value = value + 1")
    figures.append(("... and again a minute later", *timed_run(alert, clock)))
    a_minute_passes(alert)
    change_source(path, "UPDATE readings SET value = value % 900 WHERE rowid % 100 = 0")
    figures.append(("1% recover", *timed_run(alert, clock)))
    alert.refresh_from_db()
    assert alert.firing_instances == 0 and alert.state == State.OK

    bare_seconds, bare_cpu = figures[1][1], figures[1][2]  # "x bare": against the bare query between the runs
    print(f"\nload average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores (wall times stretch with it)")
    print(f"{'what':32} {'wall s':>7} {'x bare':>7} {'CPU s':>7} {'x bare':>7} {'rows written':>13}")
    for label, seconds, cpu, written in figures:
        print(f"{label:32} {seconds:7.2f} {seconds / bare_seconds:7.1f} {cpu:7.2f} {cpu / bare_cpu:7.1f} {written:13,}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
