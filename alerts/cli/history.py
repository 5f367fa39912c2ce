from alerts.models import Execution

from .common import get_alert, table

name = "history"
help = "Show the latest executions, newest first."


def add_arguments(parser):
    parser.add_argument("alert", nargs="?", metavar="NAME", help="only this alert")
    parser.add_argument("--limit", type=int, default=20, help="how many (default 20)")


def handle(options, out) -> int:
    executions = Execution.objects.select_related("alert").order_by("-scheduled_for")
    if options["alert"]:
        executions = executions.filter(alert=get_alert(options["alert"]))
    rows = [
        [
            e.pk,
            e.alert.name,
            f"{e.scheduled_for:%Y-%m-%d %H:%M:%S}Z",
            e.trigger,
            e.status,
            "" if e.duration_ms is None else f"{e.duration_ms:.0f} ms",
            "" if e.actual_value is None else e.actual_value,
            (e.error or e.reason)[:80],
        ]
        for e in executions[: max(1, options["limit"])]
    ]
    if not rows:
        out.write("No executions yet.")
        return 0
    out.write(table(rows, ["ID", "ALERT", "TICK", "TRIGGER", "STATUS", "DURATION", "VALUE", "ERROR/REASON"]))
    return 0
