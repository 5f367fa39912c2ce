import json

from alerts import backtest

from .common import UsageError, get_alert
from .stats import _moment

name = "backtest"
help = ("What an alert would have done over past ticks of its schedule: statuses, fire and resolve moments, "
        "messages per channel. Runs here, records and sends nothing.")


def add_arguments(parser):
    parser.add_argument("alert", metavar="NAME", help="the alert's name")
    parser.add_argument("--since", metavar="DURATION", help="the last 7d, 24h, 90m ...")
    parser.add_argument("--start", metavar="TIME", help="... or from this ISO time (UTC unless it says)")
    parser.add_argument("--end", metavar="TIME", help="... to this one (default: now)")
    parser.add_argument("--json", action="store_true", help="print the result as GET /api/backtests/{id} answers it (summary, events, chart, timeline)")


def handle(options, out) -> int:
    alert = get_alert(options["alert"])
    if not (options["since"] or options["start"]):
        options["since"] = "24h"
    try:
        start, end = backtest.span(since=options["since"], start=_moment("start", options["start"]),
                                   end=_moment("end", options["end"]))
        ticks = backtest.ticks_between(alert.schedule, start, end)
    except backtest.Refused as exc:
        raise UsageError(str(exc)) from None
    try:
        timeline = backtest.replay(alert, list(alert.channels.all()), ticks)
    except KeyboardInterrupt:  # Ctrl-C: the cancel of a backtest run here
        out.write("Backtest cancelled; nothing was recorded.")
        return 1
    if options["json"]:
        out.write(json.dumps(timeline.as_dict(), indent=2))
        return 0
    for line in summary_lines(timeline, alert.schedule):
        out.write(line)
    return 0


def summary_lines(timeline, schedule) -> list[str]:
    summary = timeline.summary()
    first, last = (t.replace("T", " ")[:16] for t in (summary["first_tick"], summary["last_tick"]))
    statuses = ", ".join(f"{status} {n}" for status, n in sorted(summary["by_status"].items()))
    lines = [f"Backtest of {timeline.alert}: {summary['ticks']} ticks of {schedule} from {first} to {last} UTC "
             "(nothing recorded, nothing sent)",
             f"  outcomes: {statuses}; final state {summary['final_state']}",
             f"  would fire {summary['fired']} time(s) and resolve {summary['resolved']} time(s)"]
    for channel, counts in summary["messages"].items():
        said = ", ".join(f"{n} {event}" for event, n in counts.items()) or "no message"
        lines.append(f"  {channel}: {said}")
    if not summary["messages"]:
        lines.append("  no channel: no message would have been sent")
    lines.append(f"  datasource time {summary['query_ms'] / 1000:.2f} s, wall time {summary['wall_ms'] / 1000:.2f} s")
    if timeline.events:
        lines.append("Events:")
        lines += [f"  {e['tick'].replace('T', ' ')[:16]} UTC  {e['event']}" + (f" [{e['key']}]" if e["key"] else "")
                  for e in timeline.events]
    return lines
