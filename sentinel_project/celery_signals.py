"""Celery hooks for operations: when a message was sent, and JSON logs for Celery's own lines."""

import time

from celery.signals import after_setup_logger, after_setup_task_logger, before_task_publish


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
