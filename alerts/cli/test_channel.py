from alerts.models import Channel
from alerts.notifiers import NotifierError, send_test, validate_config

from .common import UsageError

name = "test-channel"
help = "Send a sample message through a channel and report what happened; no alert state changes."


def add_arguments(parser):
    parser.add_argument("channel", metavar="NAME")


def handle(options, out) -> int:
    channel = Channel.objects.filter(name=options["channel"]).first()
    if channel is None:
        known = ", ".join(Channel.objects.values_list("name", flat=True)[:20]) or "none yet"
        raise UsageError(f"No channel named {options['channel']!r} (channels: {known}).")
    errors = validate_config(channel.kind, channel.config or {})
    if errors:
        for field, message in sorted(errors.items()):
            out.write(f"{channel.name}: {field}: {message}")
        return 1
    try:
        out.write(send_test(channel))
    except NotifierError as exc:
        out.write(f"Test message through {channel.name} ({channel.kind}) FAILED: {exc}")
        return 1
    return 0
