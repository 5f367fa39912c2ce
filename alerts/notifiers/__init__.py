"""One module per channel kind; NOTIFIERS is the one list that names them."""

from .base import Message, Notifier, NotifierError
from .log import LogNotifier

NOTIFIERS: dict[str, type[Notifier]] = {cls.kind: cls for cls in [LogNotifier]}


def notifier_for(channel) -> Notifier:
    try:
        cls = NOTIFIERS[channel.kind]
    except KeyError:
        raise NotifierError(f"Channel kind {channel.kind!r} has no notifier.", permanent=True) from None
    return cls(channel.config or {})


__all__ = ["Message", "Notifier", "NotifierError", "NOTIFIERS", "notifier_for"]
