import getpass

from .common import get_alert

name = "enable"
help = "Enable an alert: it runs from its schedule's next tick."


def add_arguments(parser):
    parser.add_argument("alert", metavar="NAME")


def handle(options, out) -> int:
    return switch(options["alert"], True, out)


def switch(alert_name: str, enabled: bool, out) -> int:
    """What `enable` and `disable` share: the verb on the alert, and what it did."""
    alert = get_alert(alert_name)
    changed = alert.set_enabled(enabled, by=f"cli:{getpass.getuser()}")
    if not changed:
        out.write(f"{alert.name} was {'enabled' if enabled else 'disabled'} already")
    elif enabled:
        out.write(f"{alert.name} enabled: it runs on its schedule again")
    else:
        out.write(f"{alert.name} disabled: it will not run until enabled")
    return 0
