"""django-celery-beat's own tables are Sentinel's mirror of the Schedules (schedules/sync.py),
rewritten by every schedule or alert change: an edit there is undone or, worse, runs an
alert twice. They are kept off the admin; a schedule's page says what beat holds for it
(docs/admin.md, "Beat's internals")."""

from django.contrib import admin
from django_celery_beat.models import (
    ClockedSchedule,
    CrontabSchedule,
    IntervalSchedule,
    PeriodicTask,
    SolarSchedule,
)

# Autodiscovery imports django_celery_beat.admin first (it is above alerts in INSTALLED_APPS),
# so its registrations exist by the time these lines undo them.
for _model in (PeriodicTask, CrontabSchedule, IntervalSchedule, ClockedSchedule, SolarSchedule):
    if admin.site.is_registered(_model):
        admin.site.unregister(_model)
