from alerts.mirror import reconcile

name = "sync-schedules"
help = "Compare schedules with beat's PeriodicTasks, print what drifted and fix it."


def add_arguments(parser):
    parser.add_argument("--check", action="store_true", help="report only; exit 1 if anything drifted")


def handle(options, out) -> int:
    drift = reconcile(fix=not options["check"])
    for line in drift:
        out.write(line)
    if not drift:
        out.write("Beat's schedule matches: nothing to do.")
    return 1 if drift and options["check"] else 0
