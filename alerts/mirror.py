"""Beat's mirror as the alerts drive it: a schedule needs its beat entry while it has an enabled alert.

schedules/sync.py keeps the PeriodicTasks; it is told here which schedules want one,
because the clock knows nothing of alerts.
"""

from schedules import sync

from .models import Alert


def sync_schedule(schedule_id: int) -> str:
    """Bring one schedule's beat entry in line with its alerts; returns created/updated/deleted/unchanged."""
    wanted = Alert.objects.filter(schedule_id=schedule_id, enabled=True).exists()
    return sync.sync_schedule(schedule_id, wanted)


def reconcile(fix: bool = True) -> list[str]:
    """Compare every schedule's beat entry with its alerts; report (and with fix, repair) what drifted."""
    wanted = set(Alert.objects.filter(enabled=True, schedule__isnull=False).values_list("schedule_id", flat=True))
    return sync.reconcile(wanted, fix)
