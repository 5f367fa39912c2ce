"""Is Sentinel able to do its work? Readiness: the report of /readyz, /ready and
`sentinel healthcheck` (the URLs are sentinel_project/probes.py).

It asks every part a firing needs: the database, the broker, a beat that ticks, a
worker alive on every queue, a queue that drains. Each check runs in its own thread
under one deadline, so a hung peer makes the answer "fail", never a hung request.
"""

import time
from concurrent.futures import ThreadPoolExecutor, wait
from dataclasses import asdict, dataclass, field
from datetime import timedelta

from django.conf import settings
from django.db import close_old_connections, connection
from django.utils import timezone

from .broker import broker_is_redis, queue_names, queue_stats, redis_client

CHECKS = ("database", "broker", "beat", "workers", "queues")
# How long one readiness answer may take, all checks together.
DEADLINE_SECONDS = 3.0


@dataclass
class Check:
    ok: bool | None  # None: could not be checked here (not counted as a failure)
    detail: str = ""
    data: dict = field(default_factory=dict)


def _safe(exc: BaseException) -> str:
    """The error text with the broker and database URLs' passwords taken out."""
    from alerts.secrets import scrub, secret_values

    text = f"{type(exc).__name__}: {exc}"
    db = settings.DATABASES["default"]
    return scrub(text, secret_values(settings.CELERY_BROKER_URL) + [db.get("PASSWORD") or ""])[:300]


def check_database() -> Check:
    try:
        started = time.monotonic()
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
        return Check(True, data={"latency_ms": round((time.monotonic() - started) * 1000, 1)})
    except Exception as exc:
        return Check(False, _safe(exc))
    finally:
        connection.close()  # checks run in their own threads: leave no connection behind


def check_broker() -> Check:
    started = time.monotonic()
    try:
        if broker_is_redis():
            client = redis_client()
            try:
                client.ping()
            finally:
                client.close()
        else:
            from kombu import Connection

            with Connection(settings.CELERY_BROKER_URL, connect_timeout=1.5) as conn:
                conn.ensure_connection(max_retries=1)
        return Check(True, data={"latency_ms": round((time.monotonic() - started) * 1000, 1)})
    except Exception as exc:
        return Check(False, _safe(exc))


def beat_heartbeat_age() -> float | None:
    # Written by beat itself: each renewal of its lease (schedules.leader) is a heartbeat.
    from schedules.leader import beat_heartbeat_age as age

    return age()


def check_beat() -> Check:
    limit = settings.SENTINEL_BEAT_MAX_AGE_SECONDS
    try:
        age = beat_heartbeat_age()
    except Exception as exc:
        return Check(False, _safe(exc))
    if age is None:
        return Check(False, "no beat heartbeat recorded: is `celery beat` running?", {"limit_seconds": limit})
    ok = age <= limit
    detail = "" if ok else f"the last beat heartbeat is {age:.0f} s old (limit {limit} s)"
    return Check(ok, detail, {"age_seconds": round(age, 1), "limit_seconds": limit})


def live_workers() -> list:
    """Workers whose heartbeat (sentinel_project.celery_signals) is younger than the max age."""
    from alerts.models import WorkerHeartbeat

    since = timezone.now() - timedelta(seconds=settings.SENTINEL_WORKER_MAX_AGE_SECONDS)
    return list(WorkerHeartbeat.objects.filter(last_seen__gte=since).order_by("name"))


def check_workers(broker_ok: bool = True) -> Check:
    if not broker_ok:
        return Check(False, "not asked: the broker is unreachable")
    limit = settings.SENTINEL_WORKER_MAX_AGE_SECONDS
    try:
        # Heartbeats in the database, not a broadcast ping: the embedded broker has no broadcast.
        alive = live_workers()
    except Exception as exc:
        return Check(False, _safe(exc))
    finally:
        connection.close()
    data = {"answered": [w.name for w in alive], "queues": {w.name: w.queues for w in alive}, "limit_seconds": limit}
    if not alive:
        return Check(False, f"no worker heartbeat in the last {limit} s: is `celery -A sentinel_project worker` "
                            "running?", data)
    consumed = {q for w in alive for q in w.queues}
    idle = [q for q in queue_names() if q not in consumed]
    if idle:
        # A queue nobody consumes is work that silently never runs (a worker started with too narrow a -Q).
        return Check(False, f"no live worker consumes queue {', '.join(idle)}: start a worker without -Q, "
                            "or with -Q naming it", data)
    return Check(True, data=data)


def check_queues(broker_ok: bool = True) -> Check:
    if not broker_is_redis():
        return Check(None, "queue depth is only read from a Redis broker")
    if not broker_ok:
        return Check(False, "not read: the broker is unreachable")
    limit = settings.SENTINEL_QUEUE_MAX_AGE_SECONDS
    try:
        stats = queue_stats()
    except Exception as exc:
        return Check(False, _safe(exc))
    late = {n: s["oldest_age_seconds"] for n, s in stats.items() if (s["oldest_age_seconds"] or 0) > limit}
    detail = ", ".join(f"queue {n}: oldest message waits {a:.0f} s (limit {limit} s)" for n, a in late.items())
    return Check(not late, detail, {"queues": stats, "limit_seconds": limit})


def _in_thread(fn, *args):
    try:
        return fn(*args)
    finally:
        close_old_connections()


def readiness(only: list[str] | None = None) -> dict:
    """Run the checks (all, or `only`) and return {"status": "ok"|"fail", "checks": {...}}."""
    wanted = [c for c in CHECKS if only is None or c in only]
    started = time.monotonic()
    results: dict[str, Check] = {}
    # No `with`: its exit would wait for a hung check's thread.
    pool = ThreadPoolExecutor(max_workers=len(CHECKS), thread_name_prefix="readyz")
    try:
        first = {name: pool.submit(_in_thread, fn) for name, fn in
                 (("database", check_database), ("broker", check_broker), ("beat", check_beat))
                 if name in wanted or (name == "broker" and {"workers", "queues"} & set(wanted))}
        done, _ = wait(first.values(), timeout=DEADLINE_SECONDS)
        for name, future in first.items():
            results[name] = future.result() if future in done else Check(False, "timed out")
        broker_ok = results.get("broker", Check(True)).ok is not False
        second = {name: pool.submit(_in_thread, fn, broker_ok) for name, fn in
                  (("workers", check_workers), ("queues", check_queues)) if name in wanted}
        remaining = max(0.5, DEADLINE_SECONDS - (time.monotonic() - started))
        done, _ = wait(second.values(), timeout=remaining)
        for name, future in second.items():
            results[name] = future.result() if future in done else Check(False, "timed out")
    finally:
        pool.shutdown(wait=False, cancel_futures=True)
    checks = {name: asdict(results[name]) for name in wanted}
    healthy = all(c["ok"] is not False for c in checks.values())
    return {"status": "ok" if healthy else "fail", "checks": checks,
            "duration_ms": round((time.monotonic() - started) * 1000, 1)}


def parse_checks(raw: str | None) -> list[str] | None:
    """`database,broker` -> ["database", "broker"]; None or "" -> None (all). Unknown names raise ValueError."""
    if not raw:
        return None
    names = [n.strip() for n in raw.split(",") if n.strip()]
    unknown = [n for n in names if n not in CHECKS]
    if unknown:
        raise ValueError(f"unknown check(s) {', '.join(unknown)}; known: {', '.join(CHECKS)}")
    return names


def as_sqlsentinel(report: dict) -> dict:
    """/readyz's report in SQL Sentinel's words: its scheduler is Sentinel's beat and workers (both are
    needed for an alert to run), its state database is Sentinel's database."""
    checks = report["checks"]

    def status(*names) -> str:
        found = [checks[n] for n in names if n in checks]
        if not found:
            return "not_checked"
        return "unhealthy" if any(c["ok"] is False for c in found) else "healthy"

    problems = "; ".join(f"{n}: {checks[n]['detail']}" for n in ("beat", "workers")
                         if n in checks and checks[n]["ok"] is False)
    scheduler = {"status": status("beat", "workers"), "jobs_count": None, "message": problems}
    database = checks.get("database")
    if database is not None and database["ok"]:
        # SQL Sentinel counted one job per enabled alert.
        from alerts.models import Alert

        try:
            scheduler["jobs_count"] = Alert.objects.filter(enabled=True).count()
        except Exception as exc:
            scheduler["message"] = scheduler["message"] or _safe(exc)
    if not scheduler["message"]:
        counted = "" if scheduler["jobs_count"] is None else f"{scheduler['jobs_count']} enabled alerts; "
        scheduler["message"] = counted + ("beat and workers ok" if scheduler["status"] == "healthy"
                                          else "beat and workers not checked")
    state_database = {"status": status("database"),
                      "latency_ms": (database or {}).get("data", {}).get("latency_ms"),
                      "message": ("Database connection OK" if database and database["ok"] else
                                  (database or {}).get("detail") or "not checked")}
    return {"status": "healthy" if report["status"] == "ok" else "unhealthy",
            "checks": {"scheduler": scheduler, "state_database": state_database},
            "sentinel": report}
