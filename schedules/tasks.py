from celery import shared_task

from . import fanout


@shared_task(name="schedules.fire_schedule", ignore_result=True)
def fire_schedule(schedule_id: int) -> None:
    fanout.fire_schedule(schedule_id)
