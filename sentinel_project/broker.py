"""The broker as readiness and /metrics see it: Sentinel's queue names, and on Redis each
queue's depth and the age of its oldest message."""

import json
import time
from urllib.parse import urlparse

from django.conf import settings


def queue_names() -> list[str]:
    """Sentinel's queues: every one needs a worker that consumes it."""
    routes = getattr(settings, "CELERY_TASK_ROUTES", {}) or {}
    names = {settings.CELERY_TASK_DEFAULT_QUEUE} | {r["queue"] for r in routes.values() if "queue" in r}
    return sorted(names | {q.name for q in getattr(settings, "CELERY_TASK_QUEUES", ())})


def broker_is_redis() -> bool:
    return urlparse(settings.CELERY_BROKER_URL).scheme in ("redis", "rediss")


def redis_client():
    import redis

    return redis.Redis.from_url(settings.CELERY_BROKER_URL, socket_timeout=1.5, socket_connect_timeout=1.5)


def queue_stats() -> dict[str, dict]:
    """Depth and oldest message age of each queue (Redis only: LLEN and one LINDEX per queue)."""
    client = redis_client()
    stats, now = {}, time.time()
    try:
        for name in queue_names():
            depth = client.llen(name)
            age = None
            if depth:
                # kombu LPUSHes and pops from the right: the oldest message is the last element.
                sent_at = message_sent_at(client.lindex(name, -1))
                age = None if sent_at is None else round(max(0.0, now - sent_at), 1)
            stats[name] = {"depth": depth, "oldest_age_seconds": age}
    finally:
        client.close()
    return stats


def message_sent_at(raw: bytes | None) -> float | None:
    """The `sentinel_sent_at` stamp of a raw message (sentinel_project/celery_signals.py), or None."""
    if not raw:
        return None
    try:
        sent_at = json.loads(raw).get("headers", {}).get("sentinel_sent_at")
        return float(sent_at) if sent_at is not None else None
    except (ValueError, TypeError, AttributeError):
        return None
