"""Scheduling at scale: N alerts every minute over S schedules, real beat and workers.

    .venv/bin/python bench/schedule_scale.py --alerts 1000 --schedules 10 --minutes 2
    .venv/bin/python bench/schedule_scale.py --alerts 10000 --schedules 100 --minutes 2 --source postgres
    .venv/bin/python bench/schedule_scale.py --alerts 100000 --schedules 100 --minutes 2 --beat-only
    .venv/bin/python bench/schedule_scale.py --alerts 10000 --schedules 1 --minutes 3 --source postgres \
        --concurrency 8 --cap 4 --spread 30 --count-concurrency --tag protected

Creates a fresh PostgreSQL database (sentinel_bench_<N>), N alerts (a trivial
query on a SQLite file, or with --source postgres on the PostgreSQL database `test`) spread over S every-minute schedules (one per timezone, so S
distinct beat entries), starts `celery beat` and a worker against Redis db 7,
skips a warm-up minute, measures M minute ticks, and prints: expected vs
executed ticks, duplicates, missed, fire lag (tick -> execution start)
p50/p99/max, beat CPU seconds per minute and peak RSS, worker executions per
second and CPU ms per execution, and how long beat takes to pick up a change.
With --beat-only no worker runs: it measures what beat and the fan-out cost.

Datasource protection (docs/performance.md): --cap sets the datasource's max_concurrent_queries,
--spread its spread_seconds; --count-concurrency (with --source postgres) has every alert query
count the datasource's connections that are inside a query at that moment (itself included,
through their own application_name) and record it as its value, so the peak over all runs is the
datasource's peak of concurrent queries. --tag keeps runs of one session in databases of their own.
"""

import argparse
import json
import os
import signal
import statistics
import subprocess
import sys
import time
import zoneinfo
from datetime import datetime, timedelta, timezone as tz
from pathlib import Path

# A deployment (DATABASE_URL set) refuses to start without a key of its own (docs/security.md §8).
BENCH_SECRET_KEY = "bench-scratch-key-not-for-deployments-0123456789abcdefghij"
ROOT = Path(__file__).resolve().parent.parent
PY = sys.executable
CELERY = str(Path(PY).parent / "celery")
REDIS_URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/7")
PG = os.environ.get("BENCH_PG", "postgresql://postgres@127.0.0.1:5432")
CLK_TCK = os.sysconf("SC_CLK_TCK")
# Where the alert queries run: a local SQLite file, or a real PostgreSQL round trip per query
# (read-only transaction, statement timeout, server-side cursor) on the same machine.
BENCH_SOURCES = {"sqlite": "", "postgres": os.environ.get("BENCH_SOURCE_PG", f"{PG}/test")}


def cpu_seconds(pid: int) -> float:
    """utime+stime of a process and its children that were reaped, from /proc."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except FileNotFoundError:
        return 0.0
    return sum(int(x) for x in fields[11:15]) / CLK_TCK


def machine_busy_seconds() -> float:
    """CPU time spent by everything on the machine, all cores, from /proc/stat (idle and iowait excluded)."""
    fields = [int(x) for x in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    return (sum(fields[:8]) - fields[3] - fields[4]) / CLK_TCK


def tree_cpu(pid: int) -> float:
    children = subprocess.run(["pgrep", "-P", str(pid)], capture_output=True, text=True).stdout.split()
    return cpu_seconds(pid) + sum(cpu_seconds(int(c)) for c in children)


def peak_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return 0.0


def percentile(values, p):
    if not values:
        return float("nan")
    values = sorted(values)
    return values[min(len(values) - 1, int(round(p / 100 * (len(values) - 1))))]


PROBE_APP = "sentinel_bench_probe"


def probe_query() -> str:
    """OK, with the number of the datasource's connections inside a query right now as its value."""
    return ("SELECT 'OK' AS status, (SELECT count(*) FROM pg_stat_activity WHERE application_name = "
            f"'{PROBE_APP}' AND state <> 'idle') AS actual_value")


def setup(n: int, s: int, database: str, env: dict, source_kind: str, cap: int | None = None, spread: int = 0,
          count_concurrency: bool = False) -> None:
    import psycopg2

    admin = psycopg2.connect(f"{PG}/postgres")
    admin.autocommit = True
    with admin.cursor() as cur:
        cur.execute(f"DROP DATABASE IF EXISTS {database} WITH (FORCE)")
        cur.execute(f"CREATE DATABASE {database}")
    admin.close()
    subprocess.run([PY, "manage.py", "migrate", "-v0"], cwd=ROOT, env=env, check=True)
    import redis

    redis.Redis.from_url(REDIS_URL).flushdb()

    import django

    django.setup()
    from alerts.mirror import reconcile
    from alerts.models import Alert, Datasource
    from schedules.models import Schedule

    source = Path(env["SENTINEL_VAR_DIR"]) / "bench-source.sqlite3"
    source.parent.mkdir(parents=True, exist_ok=True)
    import sqlite3

    sqlite3.connect(source).close()
    url = BENCH_SOURCES[source_kind] if source_kind != "sqlite" else f"sqlite:///{source}"
    query = "SELECT 'OK' AS status"
    if count_concurrency:
        url, query = f"{url}?application_name={PROBE_APP}", probe_query()
    datasource = Datasource.objects.create(name="bench", url=url, max_concurrent_queries=cap, spread_seconds=spread)
    zones = sorted(z for z in zoneinfo.available_timezones() if "/" in z and not z.startswith(("Etc", "SystemV")))
    schedules = [Schedule.objects.for_timing(cron="* * * * *", timezone=zones[i]) for i in range(s)]
    started = time.monotonic()
    Alert.objects.bulk_create(
        [Alert(name=f"bench-{i:06d}", datasource=datasource, query=query,
               schedule=schedules[i % s]) for i in range(n)],
        batch_size=5000,
    )
    drift = reconcile(fix=True)  # bulk_create skips the signals; one reconcile mirrors them all
    print(f"setup: {n} alerts over {s} schedules in {time.monotonic() - started:.1f} s; "
          f"{len(drift)} periodic tasks created; datasource cap {cap}, spread {spread} s")


def start(args, env, log):
    return subprocess.Popen(args, cwd=ROOT, env=env, stdout=open(log, "w"), stderr=subprocess.STDOUT,
                            start_new_session=True)


def stop(proc):
    if proc and proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--alerts", type=int, default=1000)
    parser.add_argument("--schedules", type=int, default=10)
    parser.add_argument("--minutes", type=int, default=2)
    parser.add_argument("--concurrency", type=int, default=3, help="worker processes (prefork)")
    parser.add_argument("--beat-only", action="store_true", help="no worker: measure beat and the fan-out")
    parser.add_argument("--out", default="", help="write the figures as JSON here too")
    parser.add_argument("--source", choices=sorted(BENCH_SOURCES), default="sqlite",
                        help="the datasource the alerts query: a SQLite file, or PostgreSQL database `test`")
    parser.add_argument("--cap", type=int, default=None, help="the datasource's max_concurrent_queries")
    parser.add_argument("--spread", type=int, default=0, help="the datasource's spread_seconds")
    parser.add_argument("--count-concurrency", action="store_true",
                        help="(--source postgres) record the datasource's concurrent queries in every run")
    parser.add_argument("--tag", default="", help="suffix of the bench database's name")
    opts = parser.parse_args()
    if opts.count_concurrency and opts.source != "postgres":
        parser.error("--count-concurrency counts PostgreSQL connections: use it with --source postgres")

    database = f"sentinel_bench_{opts.alerts}" + (f"_{opts.tag}" if opts.tag else "")
    run_dir = Path(f"/tmp/sentinel-bench/{database}-{int(time.time())}")
    run_dir.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "sentinel_project.settings", "DATABASE_URL": f"{PG}/{database}",
           "REDIS_URL": REDIS_URL, "SENTINEL_VAR_DIR": str(run_dir / "var"), "LOG_LEVEL": "WARNING",
           "DATABASE_CONN_MAX_AGE": "600", "SECRET_KEY": BENCH_SECRET_KEY, "SENTINEL_SQLITE_DIRS": str(run_dir / "var")}
    os.environ.update({k: env[k] for k in ("DJANGO_SETTINGS_MODULE", "DATABASE_URL", "REDIS_URL", "SENTINEL_VAR_DIR",
                                           "LOG_LEVEL", "DATABASE_CONN_MAX_AGE", "SECRET_KEY", "SENTINEL_SQLITE_DIRS")})
    sys.path.insert(0, str(ROOT))
    setup(opts.alerts, opts.schedules, database, env, opts.source, opts.cap, opts.spread, opts.count_concurrency)

    from django.db import connection
    from alerts.models import Execution
    from schedules.models import FiredTick, Schedule

    worker = beat = fanout_worker = None
    quiet = ["-l", "WARNING", "--without-gossip", "--without-mingle", "--without-heartbeat"]
    try:
        if not opts.beat_only:
            # The fan-out gets its own small worker, as docs/deploying.md advises: a backlog of
            # alert runs must not delay the next tick's fan-out.
            fanout_worker = start([CELERY, "-A", "sentinel_project", "worker", "-Q", "schedules", "--pool=solo",
                                   *quiet, "-n", "fanout@%h"], env, run_dir / "fanout.log")
            worker = start([CELERY, "-A", "sentinel_project", "worker", "-Q", "alerts,notifications",
                            "--pool=prefork", "-c", str(opts.concurrency), *quiet, "-n", "bench@%h"],
                           env, run_dir / "worker.log")
        beat_env = {**env, "LOG_LEVEL": "INFO"}
        beat = start([CELERY, "-A", "sentinel_project", "beat", "-S", "schedules.beat:LeaderDatabaseScheduler",
                      "-l", "INFO", "-s", str(run_dir / "beat-schedule"), "--pidfile", str(run_dir / "beat.pid")],
                     beat_env, run_dir / "beat.log")
        now = time.time()
        first = (int(now // 60) + 2) * 60  # skip the warm-up boundary
        window = [datetime.fromtimestamp(first + 60 * i, tz.utc) for i in range(opts.minutes)]
        end = first + 60 * opts.minutes
        print(f"measuring ticks {window[0]:%H:%M} .. {window[-1]:%H:%M} UTC; run data in {run_dir}")
        time.sleep(max(0, first - time.time() - 1))
        beat_cpu0, worker_cpu0, t0 = cpu_seconds(beat.pid), tree_cpu(worker.pid) if worker else 0.0, time.time()
        machine_cpu0 = machine_busy_seconds()
        time.sleep(max(0, end - 0.5 - time.time()))
        # Just before the next tick: if the window's runs are all done, their cost ends here.
        worker_cpu1, machine_cpu1 = tree_cpu(worker.pid) if worker else 0.0, machine_busy_seconds()
        drained = Execution.objects.filter(scheduled_for__in=window).exclude(status="RUNNING").count() >= (
            opts.alerts * opts.minutes)
        time.sleep(max(0, end - time.time()))
        beat_cpu1, t1 = cpu_seconds(beat.pid), time.time()
        beat_rss = peak_rss_mb(beat.pid)

        # Change pickup: move one schedule to another minute and time beat's reload.
        changed_at = time.time()
        schedule = Schedule.objects.order_by("pk").first()
        schedule.cron = "7 * * * *"
        schedule.save()
        pickup = None
        deadline = time.time() + 30
        while time.time() < deadline and pickup is None:
            for line in (run_dir / "beat.log").read_text(errors="replace").splitlines():
                if "Schedule changed" in line:
                    stamp = line.split("]")[0].lstrip("[").split(",")[0]
                    seen = datetime.strptime(stamp, "%Y-%m-%d %H:%M:%S").replace(tzinfo=tz.utc).timestamp()
                    if seen >= int(changed_at):
                        pickup = max(0.0, seen + 1 - changed_at)  # the log stamp has 1 s resolution
            time.sleep(0.2)

        # Let the last tick drain, then read the books.
        if worker and not drained:
            expected = opts.alerts * opts.minutes
            drain_deadline = time.time() + 300
            while time.time() < drain_deadline:
                done = Execution.objects.filter(scheduled_for__in=window).exclude(status="RUNNING").count()
                if done >= expected:
                    break
                time.sleep(1)
            worker_cpu1, machine_cpu1 = tree_cpu(worker.pid), machine_busy_seconds()
        connection.close()
        rows = list(Execution.objects.filter(scheduled_for__in=window).values_list("status", "started_at",
                                                                                    "scheduled_for", "finished_at"))
        concurrent = [v for v in Execution.objects.filter(scheduled_for__in=window, actual_value__isnull=False)
                      .values_list("actual_value", flat=True) if isinstance(v, (int, float))]
        fired = list(FiredTick.objects.filter(tick__in=window).values_list("tick", "fired_at", "alerts"))
        by_status = {}
        for status, *_ in rows:
            by_status[status] = by_status.get(status, 0) + 1
        ran = [r for r in rows if r[0] not in ("MISSED", "SKIPPED", "RUNNING")]
        lags = [(r[1] - r[2]).total_seconds() for r in ran]
        dup = Execution.objects.filter(scheduled_for__in=window).values("alert", "scheduled_for").count() - len(
            {(a, t) for a, t in Execution.objects.filter(scheduled_for__in=window).values_list("alert", "scheduled_for")})
        figures = {
            "alerts": opts.alerts, "schedules": opts.schedules, "minutes": opts.minutes, "source": opts.source,
            "beat_only": opts.beat_only, "worker_processes": 0 if opts.beat_only else opts.concurrency,
            "expected": opts.alerts * opts.minutes, "executions": len(rows), "by_status": by_status,
            "ran": len(ran), "duplicates": dup,
            "missed": opts.alerts * opts.minutes - len(ran) if not opts.beat_only else None,
            "lag_p50": percentile(lags, 50), "lag_p99": percentile(lags, 99), "lag_max": max(lags, default=float("nan")),
            "fanout_lag_max": max(((f - t).total_seconds() for t, f, _ in fired), default=float("nan")),
            "ticks_fanned_out": len(fired), "alerts_enqueued": sum(a for *_, a in fired),
            "beat_cpu_s_per_min": (beat_cpu1 - beat_cpu0) / ((t1 - t0) / 60), "beat_peak_rss_mb": beat_rss,
            "change_pickup_s": pickup,
            "cap": opts.cap, "spread_s": opts.spread,
            "peak_concurrent_queries": max(concurrent) if opts.count_concurrency and concurrent else None,
        }
        if opts.beat_only:
            # What a worker's fire_schedule costs for one schedule: record the tick, publish its alerts.
            from alerts import fanout

            target = Schedule.objects.order_by("-pk").first()
            started = time.perf_counter()
            fanout.fire_schedule(target.pk, now=datetime.now(tz.utc) + timedelta(minutes=5))
            figures["fanout_one_schedule_s"] = time.perf_counter() - started
            figures["fanout_alerts"] = target.alerts.count()
        if worker and ran:
            rates = []
            for tick in window:
                runs = [r for r in ran if r[2] == tick]
                if len(runs) > 1:
                    rates.append(len(runs) / (max(r[3] for r in runs) - min(r[1] for r in runs)).total_seconds())
            figures["worker_exec_per_s"] = statistics.mean(rates) if rates else None
            figures["worker_cpu_ms_per_exec"] = (worker_cpu1 - worker_cpu0) * 1000 / len(rows) if rows else None
            # Everything on the machine (PostgreSQL, Redis, beat, the fan-out, the workers, and
            # anything else running) from the first measured tick until the last run finished.
            figures["machine_cpu_ms_per_exec"] = (machine_cpu1 - machine_cpu0) * 1000 / len(rows) if rows else None
        with open("/proc/loadavg") as fh:
            figures["loadavg"] = fh.read().split()[:3]
        print(json.dumps(figures, indent=2, default=str))
        if opts.out:
            Path(opts.out).write_text(json.dumps(figures, indent=2, default=str))
    finally:
        stop(beat)
        stop(worker)
        stop(fanout_worker)


if __name__ == "__main__":
    main()
