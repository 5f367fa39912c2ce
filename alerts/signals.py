"""Keep beat's mirror in step with alert and schedule edits, in the same transaction.

Connected in alerts/apps.py. Here, not in schedules/: whether a schedule needs its
beat entry depends on its alerts, and the clock knows nothing of alerts.
"""

from django.db.models.signals import post_delete, post_save, pre_save
from django.dispatch import receiver

from schedules.models import Schedule

from .mirror import sync_schedule
from .models import Alert


@receiver(pre_save, sender=Alert)
def remember_old_schedule(sender, instance, **kwargs):
    instance._previous_schedule_id = (
        Alert.objects.filter(pk=instance.pk).values_list("schedule_id", flat=True).first() if instance.pk else None
    )


@receiver(post_save, sender=Alert)
@receiver(post_delete, sender=Alert)
def alert_changed(sender, instance, **kwargs):
    for schedule_id in {instance.schedule_id, getattr(instance, "_previous_schedule_id", None)} - {None}:
        sync_schedule(schedule_id)


@receiver(post_save, sender=Schedule)
def schedule_changed(sender, instance, created, **kwargs):
    if not created:
        sync_schedule(instance.pk)
