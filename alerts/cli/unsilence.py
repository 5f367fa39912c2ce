import getpass

from .common import get_alert

name = "unsilence"
help = "End an alert's silence now."


def add_arguments(parser):
    parser.add_argument("alert", metavar="NAME")


def handle(options, out) -> int:
    alert = get_alert(options["alert"])
    was = alert.unsilence(by=f"cli:{getpass.getuser()}")
    out.write(f"{alert.name} unsilenced" if was else f"{alert.name} was not silenced")
    return 0
