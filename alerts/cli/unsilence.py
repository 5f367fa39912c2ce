from .common import get_alert

name = "unsilence"
help = "End an alert's silence now."


def add_arguments(parser):
    parser.add_argument("alert", metavar="NAME")


def handle(options, out) -> int:
    alert = get_alert(options["alert"])
    was = alert.is_silenced()
    alert.silenced_until, alert.silence_reason, alert.silenced_by = None, "", ""
    alert.save(update_fields=["silenced_until", "silence_reason", "silenced_by", "updated_at"])
    out.write(f"{alert.name} unsilenced" if was else f"{alert.name} was not silenced")
    return 0
