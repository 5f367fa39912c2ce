import getpass
import re
from datetime import timedelta

from django.utils import timezone

from .common import UsageError, get_alert

name = "silence"
help = "Silence an alert's notifications for a while; it keeps running and recording."

_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


def parse_duration(text: str) -> timedelta:
    """'90m', '2h', '1d12h', '1.5h' -> timedelta."""
    parts = re.findall(r"(\d+(?:\.\d+)?)\s*([smhdw])", text.strip().lower())
    if not parts or re.sub(r"(\d+(?:\.\d+)?)\s*([smhdw])", "", text.strip().lower()).strip():
        raise UsageError(f"Cannot read duration {text!r}: use forms like 30m, 2h, 1d, 1h30m.")
    seconds = sum(float(n) * _UNITS[u] for n, u in parts)
    if seconds <= 0:
        raise UsageError("A silence must last longer than zero.")
    return timedelta(seconds=seconds)


def add_arguments(parser):
    parser.add_argument("alert", metavar="NAME")
    parser.add_argument("--for", dest="duration", required=True, metavar="DURATION", help="e.g. 30m, 2h, 1d")
    parser.add_argument("--reason", default="", help="why (shown beside the silence)")


def handle(options, out) -> int:
    alert = get_alert(options["alert"])
    until = timezone.now() + parse_duration(options["duration"])
    alert.silenced_until, alert.silence_reason = until, options["reason"]
    alert.silenced_by = f"cli:{getpass.getuser()}"
    alert.save(update_fields=["silenced_until", "silence_reason", "silenced_by", "updated_at"])
    out.write(f"{alert.name} silenced until {until:%Y-%m-%d %H:%M:%S}Z" + (f" ({alert.silence_reason})" if alert.silence_reason else ""))
    return 0
