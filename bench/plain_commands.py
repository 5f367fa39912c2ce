"""The plain commands at full length: issue #12's "done when" scenario.

    .venv/bin/python bench/plain_commands.py [--alerts 30] [--minutes 3]

Thirty every-minute alerts, all firing, with a webhook channel to a local HTTP sink; one
`celery -A sentinel_project worker` and two `celery -A sentinel_project beat`, started exactly as
typed (no -Q, no -S), on a private redis-server and a scratch PostgreSQL database
(sentinel_bench_plain, dropped and created again). Measures the first M minute ticks after the
processes start and prints: executions expected/found, duplicates, missed, webhooks per firing
alert. Exits 1 if any (alert, minute) ran other than once or an alert got other than one webhook.
"""

import argparse
import json
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from datetime import datetime, timezone as tz
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PY = sys.executable
CELERY = str(Path(PY).parent / "celery")
PG = os.environ.get("BENCH_PG", "postgresql://postgres@127.0.0.1:5432")
DATABASE = "sentinel_bench_plain"
LEVEL_QUERY = ("SELECT CASE WHEN value > 5 THEN 'ALERT' ELSE 'OK' END AS status, value AS actual_value, "
               "5 AS threshold FROM knobs WHERE name = 'level'")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(predicate, timeout: float, what: str, interval: float = 0.5):
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise SystemExit(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(interval)


def sink() -> tuple[str, list]:
    """A webhook receiver answering 200; returns its URL and the list it appends (alert id, event) to."""
    received = []

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args):
            pass

        def do_POST(self):
            body = json.loads(self.rfile.read(int(self.headers.get("Content-Length") or 0)) or b"{}")
            received.append((body.get("alert", {}).get("id"), body.get("event")))
            self.send_response(200)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"{}")

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return f"http://127.0.0.1:{server.server_port}/hook", received


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--alerts", type=int, default=30)
    parser.add_argument("--minutes", type=int, default=3)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="sentinel-plain-"))

    import psycopg2

    admin = psycopg2.connect(f"{PG}/postgres")
    admin.autocommit = True
    with admin.cursor() as cur:
        cur.execute(f"DROP DATABASE IF EXISTS {DATABASE} WITH (FORCE)")
        cur.execute(f"CREATE DATABASE {DATABASE}")
    admin.close()

    redis_port = free_port()
    children = []

    def start(argv, name):
        log = open(work / f"{name}.log", "wb")
        children.append(subprocess.Popen(argv, env=env, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT))
        return children[-1]

    env = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "CELERY_", "SENTINEL_"))}
    env.update(DJANGO_SETTINGS_MODULE="sentinel_project.settings", DATABASE_URL=f"{PG}/{DATABASE}",
               REDIS_URL=f"redis://127.0.0.1:{redis_port}/0", SENTINEL_VAR_DIR=str(work / "var"),
               PATH=f"{Path(PY).parent}:{env.get('PATH', '')}", PYTHONUNBUFFERED="1",
               # A deployment needs its own key; the sink and the source are local (docs/security.md §1, §7, §8).
               SECRET_KEY="bench-scratch-key-not-for-deployments-0123456789abcdefghij",
               SENTINEL_OUTBOUND_ALLOW="127.0.0.1", SENTINEL_SQLITE_DIRS=str(work))
    try:
        start(["redis-server", "--port", str(redis_port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
               "--dir", str(work)], "redis")
        subprocess.run([PY, "manage.py", "migrate", "--noinput", "-v", "0"], env=env, cwd=ROOT, check=True)
        os.environ.update({k: env[k] for k in ("DJANGO_SETTINGS_MODULE", "DATABASE_URL", "REDIS_URL",
                                               "SENTINEL_VAR_DIR", "SECRET_KEY", "SENTINEL_OUTBOUND_ALLOW",
                                               "SENTINEL_SQLITE_DIRS")})
        import django

        django.setup()
        import sqlite3

        from django.db.models import Count

        from alerts.models import Alert, Channel, Datasource, Execution, ExecutionStatus, Notification
        from schedules.models import FiredTick, Schedule

        source = work / "source.sqlite3"
        with sqlite3.connect(source) as conn:
            conn.execute("CREATE TABLE knobs (name TEXT PRIMARY KEY, value REAL)")
            conn.execute("INSERT INTO knobs VALUES ('level', 9)")  # every alert fires from its first run
        hook_url, received = sink()
        hook = Channel.objects.create(name="sink", kind="webhook", config={"url": hook_url})
        datasource = Datasource.objects.create(name="bench", url=f"sqlite:///{source}")
        every_minute = Schedule.objects.for_timing(cron="* * * * *")
        alerts = []
        for i in range(args.alerts):
            alert = Alert.objects.create(name=f"plain_{i:02d}", datasource=datasource, query=LEVEL_QUERY,
                                         schedule=every_minute)
            alert.channels.set([hook])
            alerts.append(alert)

        # Exactly the commands a new user types (log level aside); the beats' pid and schedule
        # files only keep the two apart in one directory.
        started_at = datetime.now(tz.utc)
        start([CELERY, "-A", "sentinel_project", "worker", "-l", "INFO"], "worker")
        for name in ("beat-a", "beat-b"):
            start([CELERY, "-A", "sentinel_project", "beat", "-l", "INFO", "--pidfile", str(work / f"{name}.pid"),
                   "-s", str(work / f"{name}-schedule")], name)
        print(f"started 1 worker and 2 beats at {started_at:%H:%M:%S}; logs in {work}", flush=True)

        ticks = FiredTick.objects.filter(schedule=every_minute, fired_at__gte=started_at).order_by("tick")
        wait_for(lambda: ticks.count() >= args.minutes, 60 * (args.minutes + 2), f"{args.minutes} minute ticks")
        window = list(ticks[:args.minutes])
        runs = Execution.objects.filter(alert__in=alerts, scheduled_for__in=[t.tick for t in window])
        expected = args.alerts * len(window)
        wait_for(lambda: runs.exclude(status=ExecutionStatus.RUNNING).count() >= expected
                 and not Notification.objects.filter(status__in=["pending", "sending"]).exists(), 120,
                 "the window's runs and webhooks")
        time.sleep(5)  # a duplicate webhook, if any, has time to arrive

        pairs = Counter(runs.values_list("alert_id", "scheduled_for"))
        duplicates = sum(n - 1 for n in pairs.values() if n > 1) + sum(
            r["n"] - 1 for r in FiredTick.objects.filter(schedule=every_minute).values("tick").annotate(
                n=Count("id")).filter(n__gt=1))
        missed = sum(1 for a in alerts for t in window if (a.pk, t.tick) not in pairs) + sum(
            t.missed_count for t in window[1:])
        statuses = Counter(runs.values_list("status", flat=True))
        firing = [a.pk for a in alerts if runs.filter(alert=a, status=ExecutionStatus.ALERT).exists()]
        per_alert = Counter(alert_id for alert_id, event in received if event == "firing")
        webhooks = Counter(per_alert[pk] for pk in firing)
        lags = sorted(t.lag_seconds for t in window)

        print(f"ticks: {', '.join(f'{t.tick:%H:%M}' for t in window)} (fire lag {lags[0]:.2f}-{lags[-1]:.2f} s)")
        by_status = ", ".join(f"{k} {v}" for k, v in statuses.items())
        print(f"executions expected {expected}, found {len(pairs)} ({by_status})")
        print(f"duplicates {duplicates}, missed {missed}")
        print(f"webhooks per firing alert: {dict(sorted(webhooks.items()))} (alerts firing {len(firing)}, "
              f"webhooks received {len(received)})")
        ok = (len(pairs) == expected and duplicates == 0 and missed == 0 and set(webhooks) == {1}
              and len(received) == len(firing) == args.alerts)
        print("OK" if ok else "FAILED")
        return 0 if ok else 1
    finally:
        for child in children:
            child.terminate()
        for child in children:
            try:
                child.wait(30)
            except subprocess.TimeoutExpired:
                child.kill()


if __name__ == "__main__":
    sys.exit(main())
