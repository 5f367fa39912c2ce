"""How `sentinel run` prints a run: a stored alert's recorded run, and a dry run
(both for a stored alert and for the alerts of a file, alerts/cli/run_file.py)."""

from django.utils import timezone

from alerts import runner, ticks
from alerts.models import ExecutionStatus, Trigger

FAILED = (ExecutionStatus.ERROR, ExecutionStatus.TIMEOUT)


def exit_code(status: str) -> int:
    """1 on ERROR or TIMEOUT, else 0."""
    return 1 if status in FAILED else 0


def print_value(out, value, threshold) -> None:
    if value is not None or threshold is not None:
        out.write(f"  value {value!r}, threshold {threshold!r}")


def dry_run_and_print(alert, out, note: str = "", tick=None) -> int:
    """Query and evaluate the alert now (or as at a past `tick`), record and send nothing, and print
    what would happen: each instance's next state and the notifications it would cause. Returns the
    exit code."""
    dry = runner.run(alert, tick or timezone.now(), Trigger.CLI, dry_run=True)
    out.write(f"{alert.name}: {dry.status}" + (f" ({note})" if note else ""))
    print_value(out, dry.evaluation.value, dry.evaluation.threshold)
    if dry.binding:
        out.write(f"  {dry.binding.describe('rerun of a past tick' if tick else 'now')}")
    for key, moved in dry.transitions.items():
        events = ", ".join(n.event for n in moved.notices) or "no notification"
        out.write(f"  {key or '(alert)'}: would become {moved.state.state}; {events}")
    if dry.evaluation.error:
        out.write(f"  error: {dry.evaluation.error}")
    return exit_code(dry.status)


def run_and_print(alert, out) -> int:
    """Run a stored alert now, recorded as a CLI run (notifications go out as after any run), and print
    the outcome. Returns the exit code."""
    execution = runner.run(alert, timezone.now(), Trigger.CLI)
    out.write(
        f"{alert.name}: {execution.status} (execution {execution.pk}, {execution.duration_ms or 0:.0f} ms, "
        f"state {execution.state_before or '-'} -> {execution.state_after or '-'})"
    )
    print_value(out, execution.actual_value, execution.threshold)
    binding = ticks.binding_if_used(alert, execution.scheduled_for)  # what the run bound: the same rows decide
    if binding:
        out.write(f"  {binding.describe('now')}")
    for n in execution.notifications.select_related("channel"):
        key = f" [{n.instance_key}]" if n.instance_key else ""
        out.write(f"  notification {n.pk}: {n.event}{key} -> {n.channel.name}: {n.status}")
    print_reason(out, execution)
    return exit_code(execution.status)


def print_reason(out, execution) -> None:
    if execution.error or execution.reason:
        out.write(f"  {'error' if execution.error else 'reason'}: {execution.error or execution.reason}")
