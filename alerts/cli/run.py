from django.utils import timezone

from alerts import runner
from alerts.models import ExecutionStatus, Trigger

from .common import UsageError, get_alert

name = "run"
help = "Run a stored alert now and print its outcome (exit 1 on ERROR or TIMEOUT)."


def add_arguments(parser):
    parser.add_argument("alert", metavar="NAME", nargs="?", help="the alert's name (not with --file)")
    parser.add_argument("--dry-run", action="store_true", help="query and evaluate; change and send nothing")
    # --file: alerts straight from a file, storing nothing; with --record, storing all (alerts/cli/run_file.py).
    parser.add_argument("--file", metavar="FILE", help="run the alerts of this file without storing anything")
    parser.add_argument("--alert", dest="file_alert", metavar="NAME", help="with --file: only this alert")
    parser.add_argument("--record", action="store_true",
                        help="with --file: apply the file's definitions (as apply does, without --prune), then "
                             "run each enabled alert of it once now, recording the runs and sending notifications")


def handle(options, out) -> int:
    if options.get("file") or options.get("file_alert") or options.get("record"):
        from .run_file import handle_file

        return handle_file(options, out)
    if not options["alert"]:
        raise UsageError("Give an alert's NAME, or --file FILE.")
    alert = get_alert(options["alert"])
    if options["dry_run"]:
        dry = runner.run(alert, timezone.now(), Trigger.CLI, dry_run=True)
        out.write(f"{alert.name}: {dry.status} (dry run: nothing recorded, nothing sent)")
        if dry.evaluation.value is not None or dry.evaluation.threshold is not None:
            out.write(f"  value {dry.evaluation.value!r}, threshold {dry.evaluation.threshold!r}")
        for key, moved in dry.transitions.items():
            events = ", ".join(n.event for n in moved.notices) or "no notification"
            out.write(f"  {key or '(alert)'}: would become {moved.state.state}; {events}")
        if dry.evaluation.error:
            out.write(f"  error: {dry.evaluation.error}")
        return 1 if dry.status in (ExecutionStatus.ERROR, ExecutionStatus.TIMEOUT) else 0
    return run_and_print(alert, out)


def run_and_print(alert, out) -> int:
    """Run a stored alert now, recorded as a CLI run (notifications go out as after any run), and print
    the outcome; the exit code: 1 on ERROR or TIMEOUT, else 0."""
    execution = runner.run(alert, timezone.now(), Trigger.CLI)
    out.write(
        f"{alert.name}: {execution.status} (execution {execution.pk}, {execution.duration_ms or 0:.0f} ms, "
        f"state {execution.state_before or '-'} -> {execution.state_after or '-'})"
    )
    if execution.actual_value is not None or execution.threshold is not None:
        out.write(f"  value {execution.actual_value!r}, threshold {execution.threshold!r}")
    for n in execution.notifications.select_related("channel"):
        key = f" [{n.instance_key}]" if n.instance_key else ""
        out.write(f"  notification {n.pk}: {n.event}{key} -> {n.channel.name}: {n.status}")
    if execution.error or execution.reason:
        out.write(f"  {'error' if execution.error else 'reason'}: {execution.error or execution.reason}")
    return 1 if execution.status in (ExecutionStatus.ERROR, ExecutionStatus.TIMEOUT) else 0
