from django.utils import timezone

from alerts.models import Alert

from .common import table

name = "status"
help = "Show every alert's state, last run and silence."


def add_arguments(parser):
    parser.add_argument("alert", nargs="?", metavar="NAME", help="only this alert")


def handle(options, out) -> int:
    alerts = Alert.objects.select_related("datasource", "schedule").order_by("name")
    if options["alert"]:
        alerts = alerts.filter(name=options["alert"])
    now = timezone.now()
    rows = []
    for a in alerts:
        silenced = f"until {a.silenced_until:%Y-%m-%d %H:%M}Z" if a.is_silenced(now) else ""
        state = a.state if a.enabled else f"{a.state} (disabled)"
        if a.firing_instances > 1:
            state += f" ({a.firing_instances} firing)"
        last = f"{a.last_run_at:%Y-%m-%d %H:%M:%S}Z {a.last_status}" if a.last_run_at else "never run"
        rows.append([a.name, state, last, "" if a.last_value is None else a.last_value, silenced])
    if not rows:
        out.write("No alerts.")
        return 0
    out.write(table(rows, ["NAME", "STATE", "LAST RUN", "VALUE", "SILENCED"]))
    return 0
