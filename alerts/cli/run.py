from django.utils import timezone

from alerts.ticks import BadTick, past_tick

from .common import UsageError, get_alert
from .run_file import handle_file
from .run_output import dry_run_and_print, run_and_print

name = "run"
help = "Run a stored alert now and print its outcome (exit 1 on ERROR or TIMEOUT)."


def add_arguments(parser):
    parser.add_argument("alert", metavar="NAME", nargs="?", help="the alert's name (not with --file)")
    parser.add_argument("--dry-run", action="store_true", help="query and evaluate; change and send nothing")
    parser.add_argument("--tick", metavar="WHEN",
                        help="rerun a past tick (ISO 8601, UTC, e.g. 2026-12-01T10:05Z): binds its :tick and window "
                             "and shows its answer; always a dry run, since the tick has its execution")
    # --file: alerts straight from a file, storing nothing; with --record, storing all (alerts/cli/run_file.py).
    parser.add_argument("--file", metavar="FILE", help="run the alerts of this file without storing anything")
    parser.add_argument("--alert", dest="file_alert", metavar="NAME", help="with --file: only this alert")
    parser.add_argument("--record", action="store_true",
                        help="with --file: apply the file's definitions (as apply does, without --prune), then "
                             "run each enabled alert of it once now, recording the runs and sending notifications")


def handle(options, out) -> int:
    if options.get("file") or options.get("file_alert") or options.get("record"):
        if options.get("tick"):
            raise UsageError("--tick reruns a stored alert: give its NAME, not --file.")
        return handle_file(options, out)
    if not options["alert"]:
        raise UsageError("Give an alert's NAME, or --file FILE.")
    alert = get_alert(options["alert"])
    if options.get("tick"):
        try:
            tick = past_tick(options["tick"], timezone.now())
        except BadTick as exc:
            raise UsageError(str(exc)) from None
        return dry_run_and_print(alert, out, note="rerun of a past tick: a dry run, nothing recorded, nothing sent",
                                 tick=tick)
    if options["dry_run"]:
        return dry_run_and_print(alert, out, note="dry run: nothing recorded, nothing sent")
    return run_and_print(alert, out)
