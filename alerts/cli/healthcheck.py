import json

from django.conf import settings

from sentinel_project import health

from .common import UsageError

name = "healthcheck"
help = "Check the database, broker, beat, workers and queues; print JSON like /readyz; exit 1 when unhealthy."


def add_arguments(parser):
    parser.add_argument("--checks", metavar="NAMES", default="",
                        help=f"comma-separated subset of: {', '.join(health.CHECKS)} "
                             "(default: SENTINEL_READY_CHECKS, else all)")


def handle(options, out) -> int:
    try:
        only = health.parse_checks(options["checks"] or settings.SENTINEL_READY_CHECKS)
    except ValueError as exc:
        raise UsageError(f"--checks: {exc}") from None
    report = health.readiness(only)
    out.write(json.dumps(report, indent=2))
    return 0 if report["status"] == "ok" else 1
