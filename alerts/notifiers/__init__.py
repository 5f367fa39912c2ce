"""One module per channel kind, holding everything about that kind; NOTIFIERS is the one
list that names them. Adding a kind is its module and a line in that list.

Every face asks here: Channel.kind's choices (kind_choices), the admin's form and help,
the API and the config files (validate_config), masking (mask_config, restore_config),
the silence page (via_label), delivery's recovery (drops_duplicates). send_test() sends
a sample message without touching any alert state."""

import time
import uuid

from .. import secrets
from .base import Message, Notifier, NotifierError, Sent, Setting
from .email import Email
from .log import LogNotifier
from .msteams import MSTeams
from .pagerduty import PagerDuty
from .payload import sample
from .slack import Slack
from .webhook import Webhook

# In the order the admin offers them.
NOTIFIERS: dict[str, type[Notifier]] = {cls.kind: cls for cls in [
    LogNotifier,
    Email,
    Slack,
    Webhook,
    PagerDuty,
    MSTeams,
]}


def kind_choices() -> list[tuple[str, str]]:
    """(kind, label) in the registry's order: Channel.kind's choices."""
    return [(kind, cls.label or kind) for kind, cls in NOTIFIERS.items()]


def via_label(kind: str) -> str:
    """How a page names the channel kind a link came through ("from Slack link")."""
    cls = NOTIFIERS.get(kind)
    return cls.via_label if cls is not None else kind


def drops_duplicates(kind: str) -> bool:
    """Whether this kind's receivers drop a repeated message carrying the same key."""
    cls = NOTIFIERS.get(kind)
    return cls is not None and cls.drops_duplicates


def mask_config(kind: str, config: dict) -> dict:
    """A channel's settings as anyone may see them: its kind's secret fields masked (alerts/secrets.py)."""
    cls = NOTIFIERS.get(kind)
    return secrets.mask_config(config, cls.secret_fields if cls else ())


def restore_config(kind: str, incoming: dict, stored: dict | None) -> tuple[dict, list[tuple[str, str]]]:
    """`incoming` with each mask of a stored secret put back, at its kind's stored destinations only
    (alerts/secrets.py)."""
    cls = NOTIFIERS.get(kind)
    if cls is None:  # a kind no notifier knows: every key counts as where the secrets would go
        return secrets.restore_config(incoming, stored)
    return secrets.restore_config(incoming, stored, cls.secret_fields, cls.destination_fields)


def notifier_for(channel) -> Notifier:
    try:
        cls = NOTIFIERS[channel.kind]
    except KeyError:
        raise NotifierError(f"Channel kind {channel.kind!r} has no notifier.", permanent=True) from None
    return cls(channel.config or {})


def validate_config(kind: str, config: dict) -> dict[str, str]:
    """Field -> error message for a channel of this kind; an empty dict means valid."""
    cls = NOTIFIERS.get(kind)
    if cls is None:
        return {"kind": f"Unknown channel kind {kind!r}; use one of {', '.join(sorted(NOTIFIERS))}."}
    if not isinstance(config, dict):
        return {"config": "Must be a mapping of settings."}
    return cls.validate(config)


def send_test(channel) -> str:
    """Send a sample firing message through the channel; touches no alert state.

    Returns one line saying what happened; raises NotifierError (secrets scrubbed).
    For HTTP kinds the line holds the status and the time taken only, never what the far end
    said: an editor must not learn from it what listens where (docs/security.md §7)."""
    notifier = notifier_for(channel)
    message = Message(0, sample(), idempotency_key=f"sentinel-test-{uuid.uuid4()}")
    clock = time.monotonic()
    try:
        sent = notifier.send(message)
    except NotifierError as exc:
        took = (time.monotonic() - clock) * 1000
        brief = getattr(exc, "brief", None)  # HTTP kinds: the status, or why nothing answered
        if brief is None:
            text = str(exc)
        elif brief.startswith("refused"):
            text = brief  # nothing was connected to, so there is no time to tell
        else:
            text = f"{brief} after {took:.0f} ms"
        raise NotifierError(secrets.scrub(text, notifier.secrets()), permanent=exc.permanent,
                            status_code=exc.status_code) from None
    except Exception as exc:
        raise NotifierError(secrets.scrub(f"{type(exc).__name__}: {exc}", notifier.secrets())) from None
    took = (time.monotonic() - clock) * 1000
    return f"Test message sent through {channel.name} ({channel.kind}): {sent.detail or 'ok'} in {took:.0f} ms."


__all__ = ["Message", "Notifier", "NotifierError", "NOTIFIERS", "Sent", "Setting", "drops_duplicates",
           "kind_choices", "mask_config", "notifier_for", "restore_config", "send_test", "validate_config",
           "via_label"]
