import getpass
from datetime import timedelta

from django.utils import timezone

from alerts import durations
from alerts.models import SilenceError

from .common import UsageError, get_alert

name = "silence"
help = "Silence an alert's notifications for a while; it keeps running and recording."


def parse_duration(text: str) -> timedelta:
    """'90m', '2h', '1d12h', '1.5h' -> timedelta: the one syntax of alerts/durations.py."""
    try:
        return durations.parse_duration(text)
    except durations.DurationError as exc:
        raise UsageError(str(exc)) from None


def add_arguments(parser):
    parser.add_argument("alert", metavar="NAME")
    parser.add_argument("--for", dest="duration", required=True, metavar="DURATION", help="e.g. 30m, 2h, 1d")
    parser.add_argument("--reason", required=True, help="why (required: shown beside the silence to the next on-call)")


def handle(options, out) -> int:
    alert = get_alert(options["alert"])
    until = timezone.now() + parse_duration(options["duration"])
    try:
        alert.silence(until, options["reason"], by=f"cli:{getpass.getuser()}")
    except SilenceError as exc:
        raise UsageError(str(exc)) from None
    out.write(f"{alert.name} silenced until {alert.silenced_until:%Y-%m-%d %H:%M:%S}Z ({alert.silence_reason})")
    return 0
