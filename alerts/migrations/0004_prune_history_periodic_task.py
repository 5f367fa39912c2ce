"""Register the hourly history pruning with beat (alerts.retention).

A data migration, so every deploy that runs `migrate` (the Procfile's release
step, `make run`, the tests) has it; an operator may edit its timing in the
admin (Periodic tasks), and a later migrate leaves that edit alone.
"""

from django.db import migrations

NAME = "sentinel-prune-history"  # also the Sentry cron monitor's slug


def register(apps, schema_editor):
    CrontabSchedule = apps.get_model("django_celery_beat", "CrontabSchedule")
    PeriodicTask = apps.get_model("django_celery_beat", "PeriodicTask")
    PeriodicTasks = apps.get_model("django_celery_beat", "PeriodicTasks")
    if PeriodicTask.objects.filter(name=NAME).exists():
        return
    # Minute 17: away from the top of the hour, where most alert schedules fire.
    crontab, _ = CrontabSchedule.objects.get_or_create(
        minute="17", hour="*", day_of_week="*", day_of_month="*", month_of_year="*", timezone="UTC"
    )
    PeriodicTask.objects.create(
        name=NAME, task="alerts.prune_history", crontab=crontab, enabled=True,
        description="Deletes executions and notifications older than their retention (docs/operating.md).",
    )
    # Tell a running beat to reload its schedule.
    from django.utils import timezone

    PeriodicTasks.objects.update_or_create(ident=1, defaults={"last_update": timezone.now()})


def unregister(apps, schema_editor):
    apps.get_model("django_celery_beat", "PeriodicTask").objects.filter(name=NAME).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("alerts", "0003_alert_retention_days"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
    ]

    operations = [migrations.RunPython(register, unregister)]
