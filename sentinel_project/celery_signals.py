"""Celery hooks for operations: when a message was sent, JSON logs for Celery's own lines,
each worker's heartbeat in the database, and beat keeping SENTINEL_CONFIG_FILES applied."""

import logging
import threading
import time
from datetime import timedelta

from celery import bootsteps
from celery.signals import after_setup_logger, after_setup_task_logger, beat_init, before_task_publish

log = logging.getLogger("sentinel.workers")


@before_task_publish.connect
def stamp_sent_at(headers=None, **kwargs):
    # Lets /readyz and /metrics tell how long the oldest queued message has waited (one LINDEX).
    if isinstance(headers, dict):
        headers.setdefault("sentinel_sent_at", time.time())


@after_setup_logger.connect
@after_setup_task_logger.connect
def json_celery_logs(logger=None, **kwargs):
    from django.conf import settings

    if getattr(settings, "LOG_FORMAT", "plain") != "json" or logger is None:
        return
    from .logs import JsonFormatter

    for handler in logger.handlers:
        handler.setFormatter(JsonFormatter())


def write_heartbeat(name: str, queues: list[str]) -> None:
    """Say in the database that worker `name` consumes `queues` now."""
    from django.db import connection
    from django.utils import timezone

    from alerts.models import WorkerHeartbeat

    try:
        WorkerHeartbeat.objects.update_or_create(name=name, defaults={"queues": queues, "last_seen": timezone.now()})
    finally:
        # Between heartbeats the worker holds no connection of its own (and a restarted
        # database costs one missed heartbeat, not a broken connection kept forever).
        connection.close()


def forget_worker(name: str) -> None:
    """A worker that shuts down cleanly stops counting at once, not after the max age."""
    from django.db import connection
    from django.utils import timezone

    from alerts.models import WorkerHeartbeat

    try:
        WorkerHeartbeat.objects.filter(name=name).delete()
        # Rows of workers killed long ago (SIGKILL, lost hosts) tell nobody anything.
        WorkerHeartbeat.objects.filter(last_seen__lt=timezone.now() - timedelta(days=1)).delete()
    finally:
        connection.close()


class Heartbeat(bootsteps.StartStopStep):
    """Write this worker's heartbeat every SENTINEL_WORKER_HEARTBEAT_SECONDS while it consumes.

    A consumer step: Celery stops it while the broker connection is lost and starts it again on
    reconnect, so a worker that cannot take messages stops looking alive. Its own thread, so a
    slow database never stalls the worker's event loop."""

    requires = ("celery.worker.consumer.tasks:Tasks",)

    def __init__(self, parent, **kwargs):
        super().__init__(parent, **kwargs)
        self.stopped = threading.Event()
        self.thread = None

    def start(self, c):
        from django.conf import settings

        self.stop(c)
        self.stopped = threading.Event()
        self.beat(c)  # at once: alive as soon as it consumes
        interval = settings.SENTINEL_WORKER_HEARTBEAT_SECONDS
        self.thread = threading.Thread(target=self.run, args=(c, self.stopped, interval), name="sentinel-heartbeat",
                                       daemon=True)
        self.thread.start()

    def run(self, c, stopped: threading.Event, interval: float) -> None:
        while not stopped.wait(interval):
            self.beat(c)

    def beat(self, c) -> None:
        try:
            write_heartbeat(c.hostname, consumed_queues(c))
        except Exception as exc:  # the next heartbeat tries again; /readyz shows the age meanwhile
            log.warning("worker heartbeat not written: %s: %s", type(exc).__name__, exc)

    def stop(self, c):
        self.stopped.set()
        if self.thread is not None:
            self.thread.join(timeout=5)
            self.thread = None

    def shutdown(self, c):
        self.stop(c)
        try:
            forget_worker(c.hostname)
        except Exception as exc:
            log.warning("worker heartbeat not removed: %s: %s", type(exc).__name__, exc)


def consumed_queues(c) -> list[str]:
    consumer = getattr(c, "task_consumer", None)
    if consumer is not None:
        return sorted({q.name for q in consumer.queues})
    return sorted(c.app.amqp.queues.consume_from)


def install(app) -> None:
    app.steps["consumer"].add(Heartbeat)


# --- beat applies the mounted config files (docs/config.md "Watching files") -------------------
# Here, not in schedules/: the clock knows nothing of alerts. Every beat applies, leader or
# standby: an apply is one transaction and applying unchanged content writes nothing, so any
# number of beats converge on the files' content (a second one that loses a race retries at its
# next poll), and a standby whose mount changed first needs no lease to bring it in.
@beat_init.connect
def watch_config_files(sender=None, **kwargs):
    from django.conf import settings

    if settings.SENTINEL_CONFIG_FILES:
        threading.Thread(target=keep_config_applied, name="sentinel-config-files", daemon=True,
                         args=(settings.SENTINEL_CONFIG_FILES, settings.SENTINEL_CONFIG_POLL_SECONDS,
                               threading.Event())).start()


def keep_config_applied(paths: list[str], interval: float, stopped: threading.Event) -> None:
    """Apply `paths` now and after every change of their content, logging what happened, until
    `stopped` is set. Its own thread, so a slow database never delays beat's ticks."""
    from django.db import connection

    from alerts.config.watch import apply_if_changed

    config_log = logging.getLogger("sentinel.config")
    config_log.info("applying %s now and on every change (every %s s)", ", ".join(paths), interval)
    last = None
    while True:
        try:
            outcome = apply_if_changed(paths, last)
            last = outcome.hash
            if outcome.changed:
                level = logging.INFO if outcome.ok else logging.WARNING
                config_log.log(level, "%s: %s\n%s", ", ".join(paths),
                               "applied" if outcome.applied else "nothing applied" if not outcome.ok else "unchanged",
                               "\n".join(outcome.lines))
                connection.close()  # between changes the watcher holds no connection
        except Exception as exc:  # the next poll tries again; beat goes on ticking meanwhile
            config_log.warning("config files not applied: %s: %s", type(exc).__name__, exc)
            connection.close()
        if stopped.wait(interval):
            return
