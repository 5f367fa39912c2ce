"""Register the roll-up of executions into hourly rollups with beat (alerts.rollups), every five
minutes, the way 0004 registers the pruning: an operator's edit of its timing in the admin
survives a later migrate."""

from django.db import migrations

NAME = "sentinel-roll-up-history"


def register(apps, schema_editor):
    CrontabSchedule = apps.get_model("django_celery_beat", "CrontabSchedule")
    PeriodicTask = apps.get_model("django_celery_beat", "PeriodicTask")
    PeriodicTasks = apps.get_model("django_celery_beat", "PeriodicTasks")
    if PeriodicTask.objects.filter(name=NAME).exists():
        return
    # Minutes 2, 7, 12, ...: off the minutes most alert schedules fire on (:00, :05, :15, :30).
    crontab, _ = CrontabSchedule.objects.get_or_create(
        minute="2-59/5", hour="*", day_of_week="*", day_of_month="*", month_of_year="*", timezone="UTC"
    )
    PeriodicTask.objects.create(
        name=NAME, task="alerts.roll_up_history", crontab=crontab, enabled=True,
        description="Adds up each alert's executions per hour for the statistics (docs/operating.md).",
    )
    from django.utils import timezone

    PeriodicTasks.objects.update_or_create(ident=1, defaults={"last_update": timezone.now()})


def unregister(apps, schema_editor):
    apps.get_model("django_celery_beat", "PeriodicTask").objects.filter(name=NAME).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("alerts", "0010_execution_rollups"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
    ]

    operations = [migrations.RunPython(register, unregister)]
