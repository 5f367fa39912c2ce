import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "sentinel_project.settings")

app = Celery("sentinel")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()

from . import celery_signals  # noqa: E402  (sent-at stamps, JSON logs, worker heartbeats)

celery_signals.install(app)
