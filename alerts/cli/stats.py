import json
from datetime import timezone as dt_timezone

from django.utils.dateparse import parse_datetime
from django.utils.timezone import is_naive, make_aware

from alerts import stats

from .common import UsageError, get_alert

name = "stats"
help = "Runs, success and error rates, durations, fire lag, last success and failure, time firing."


def add_arguments(parser):
    parser.add_argument("alert", nargs="?", metavar="NAME", help="only this alert (default: every alert together)")
    parser.add_argument("--since", metavar="DURATION", help="the window, back from --end: 24h (default), 7d, 30d")
    parser.add_argument("--start", metavar="TIME", help="ticks at or after this ISO time (UTC unless it says)")
    parser.add_argument("--end", metavar="TIME", help="ticks before this ISO time (default: now)")
    parser.add_argument("--json", action="store_true", help="print the API's JSON (GET /api/.../stats)")


def _moment(option: str, text: str | None):
    if text is None:
        return None
    try:
        moment = parse_datetime(text)
    except ValueError:
        moment = None
    if moment is None:
        raise UsageError(f"--{option}: cannot read {text!r} as a time; use ISO 8601, e.g. 2026-12-01T09:00:00Z.")
    return make_aware(moment, dt_timezone.utc) if is_naive(moment) else moment


def handle(options, out) -> int:
    from alerts.api.serializers import StatsSerializer

    try:
        w = stats.window(options["since"], _moment("start", options["start"]), _moment("end", options["end"]))
    except stats.WindowError as exc:
        raise UsageError(str(exc) if not str(exc).startswith("since") else f"--{exc}") from None
    alert = get_alert(options["alert"]) if options["alert"] else None
    figures = stats.alert_stats(alert, w) if alert else stats.overall_stats(w)
    if options["json"]:
        out.write(json.dumps(StatsSerializer(figures.as_dict()).data, indent=2))
        return 0
    out.write(f"{alert.name if alert else 'all alerts'}: ticks from {w.start:%Y-%m-%d %H:%M:%S} "
              f"to {w.end:%Y-%m-%d %H:%M:%S} UTC")
    width = max(len(label) for label, _ in stats.lines(figures))
    for label, text in stats.lines(figures):
        out.write(f"  {label:<{width}}  {text}")
    return 0
