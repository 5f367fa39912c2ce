"""Runs asked for through the API: claimed at once (so the answer carries the execution id),
run by a worker (task alerts.run_claimed)."""

import uuid

from django.utils import timezone

from . import dispatch, runner
from .models import Alert, Execution, ExecutionStatus, Trigger

QUEUED = "Queued through the API; waiting for a worker."


def start_run(alert: Alert) -> Execution | None:
    """Claim a run of the alert now (trigger api) and queue it once this transaction commits."""
    claim, execution = runner.claim_tick(alert, timezone.now(), Trigger.API)
    if claim != runner.Claim.CLAIMED:
        return None
    # No lease while it waits for a worker: a queued run must not make the alert's scheduled
    # runs look overlapped (SKIPPED). The lease starts when a worker takes it (run_queued).
    execution.lease_expires_at, execution.reason = None, QUEUED
    Execution.objects.filter(pk=execution.pk).update(lease_expires_at=None, reason=QUEUED)
    dispatch.run_claimed(execution.pk)
    return execution


def run_queued(execution_id: int, task_id: str = "") -> Execution | None:
    """Run a claimed execution; a second delivery of its task finds it taken and does nothing."""
    execution = Execution.objects.select_related("alert__datasource", "alert__schedule").filter(pk=execution_id).first()
    if execution is None:
        return None
    now = timezone.now()
    # It may have waited in the queue: its lease starts now, when the work does.
    taken = Execution.objects.filter(pk=execution_id, status=ExecutionStatus.RUNNING, task_id="").update(
        task_id=task_id or f"local-{uuid.uuid4()}", worker=runner.WORKER, started_at=now, reason="",
        lease_expires_at=runner.lease_until(execution.alert, now),
    )
    if taken != 1:
        return None
    execution.refresh_from_db()
    return runner.run_claimed(execution.alert, execution)
