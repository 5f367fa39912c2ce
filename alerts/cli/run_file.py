"""`sentinel run --file FILE [--alert NAME] [--dry-run | --record]`: run the alerts of a file now.

For CI of the alerts themselves. The file is applied inside a transaction that is
always rolled back: the alerts run through the same runner, against the same
stored channels and datasources the file may refer to, and then every row it
wrote disappears. Each alert is judged as new (no remembered state, no silence),
so a breach reads as "firing". Without --dry-run the notifications it causes are
really sent, once each, without retries; with --dry-run nothing is sent.

With --record it is SQL Sentinel's `run CONFIG`: the file's definitions are applied
(as `apply` does, without --prune; they then also run on their schedules) and each
alert runs once now as a CLI run of the stored alert: executions recorded, state
remembered, notifications sent as after any run.
"""

import difflib

from django.db import IntegrityError, transaction
from django.utils import timezone

from alerts import delivery, runner
from alerts.config import apply_plan, load_files, make_plan
from alerts.models import Alert, AlertState, NotificationStatus, Trigger

from .common import UsageError
from .run_output import dry_run_and_print, exit_code, print_reason, print_value, run_and_print
from .validate import print_errors


class _RollBack(Exception):
    pass


def handle_file(options, out) -> int:
    if not options.get("file") and options.get("record"):
        raise UsageError("--record goes with --file FILE: sentinel run --file FILE --record.")
    if not options.get("file"):
        raise UsageError("--alert NAME goes with --file FILE; for a stored alert write `sentinel run NAME`.")
    if options.get("alert"):
        raise UsageError("Give either an alert NAME or --file FILE, not both (use --alert NAME with --file).")
    config = load_files([options["file"]])
    if config.errors:
        print_errors(config, out)
        return 1
    wanted = options.get("file_alert")
    if wanted and wanted not in config.alerts:
        close = difflib.get_close_matches(wanted, list(config.alerts), n=3, cutoff=0.5)
        hint = f" Did you mean: {', '.join(close)}?" if close else ""
        raise UsageError(f"No alert named {wanted!r} in {options['file']}.{hint}")
    # Like SQL Sentinel: all enabled alerts, or the one asked for even when disabled.
    names = [wanted] if wanted else [n for n, spec in config.alerts.items() if spec.settings["enabled"]]
    if options.get("record"):
        if options["dry_run"]:
            raise UsageError("--record stores and sends, --dry-run neither: give one of them.")
        return record_file(config, names, options["file"], out)
    code = 0
    try:
        with transaction.atomic():
            plan = make_plan(config)
            if config.errors:
                print_errors(config, out)
                code = 1
                raise _RollBack
            apply_plan(plan)
            for name in names:
                code = max(code, run_one(name, options["dry_run"], out))
            raise _RollBack
    except _RollBack:
        pass
    out.write(f"Ran {len(names)} alert{'s' if len(names) != 1 else ''} from {options['file']}; nothing was stored"
              + (" and nothing sent." if options["dry_run"] else "."))
    return code


def record_file(config, names: list[str], path: str, out) -> int:
    """Apply the file (no prune), then run each named alert once, recorded; the worst exit code of the runs."""
    plan = make_plan(config)
    if config.errors:
        print_errors(config, out)
        return 1
    for line in plan.lines():
        out.write(line)
    if plan.has_changes:
        try:
            apply_plan(plan)
        except IntegrityError:
            out.write("Nothing was applied and nothing ran: the stored definitions changed while applying. "
                      "Run it again.")
            return 1
    code = 0
    for name in names:
        code = max(code, run_and_print(Alert.objects.select_related("datasource", "schedule").get(name=name), out))
    out.write(f"Ran {len(names)} alert{'s' if len(names) != 1 else ''} from {path}; each run was recorded.")
    return code


def run_one(name: str, dry_run: bool, out) -> int:
    alert = Alert.objects.select_related("datasource", "schedule").get(name=name)
    AlertState.objects.filter(alert=alert).delete()
    Alert.objects.filter(pk=alert.pk).update(silenced_until=None)
    alert.silenced_until = None
    if dry_run:
        return dry_run_and_print(alert, out)
    execution = runner.run(alert, timezone.now(), Trigger.CLI)
    out.write(f"{name}: {execution.status} ({execution.duration_ms or 0:.0f} ms)")
    print_value(out, execution.actual_value, execution.threshold)
    code = exit_code(execution.status)
    for n in execution.notifications.select_related("channel").order_by("pk"):
        if n.status == NotificationStatus.PENDING:
            result = delivery.deliver(n.pk)
            said = "sent" if result.status == "sent" else f"FAILED: {result.error}"
            code = max(code, 0 if result.status == "sent" else 1)
        else:
            said = n.status
        key = f" [{n.instance_key}]" if n.instance_key else ""
        out.write(f"  {n.event}{key} -> {n.channel.name}: {said}")
    print_reason(out, execution)
    return code
