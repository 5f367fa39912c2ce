"""One module per channel kind; NOTIFIERS is the one list that names them.

validate_config() is the one validation the YAML loader, the API and the admin
share; send_test() sends a sample message without touching any alert state."""

import time
import uuid

from .base import Message, Notifier, NotifierError
from .email import Email
from .log import LogNotifier
from .msteams import MSTeams
from .pagerduty import PagerDuty
from .slack import Slack
from .webhook import Webhook

NOTIFIERS: dict[str, type[Notifier]] = {cls.kind: cls for cls in [LogNotifier, Email, Slack, Webhook, PagerDuty, MSTeams]}


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
    from ..secrets import scrub
    from .sample import sample_payload

    notifier = notifier_for(channel)
    message = Message(0, sample_payload(), idempotency_key=f"sentinel-test-{uuid.uuid4()}")
    clock = time.monotonic()
    try:
        said = notifier.send(message)
    except NotifierError as exc:
        took = (time.monotonic() - clock) * 1000
        brief = getattr(exc, "brief", None)  # HTTP kinds: the status, or why nothing answered
        if brief is None:
            text = str(exc)
        elif brief.startswith("refused"):
            text = brief  # nothing was connected to, so there is no time to tell
        else:
            text = f"{brief} after {took:.0f} ms"
        raise NotifierError(scrub(text, notifier.secrets()), permanent=exc.permanent,
                            status_code=exc.status_code) from None
    except Exception as exc:
        raise NotifierError(scrub(f"{type(exc).__name__}: {exc}", notifier.secrets())) from None
    took = (time.monotonic() - clock) * 1000
    return f"Test message sent through {channel.name} ({channel.kind}): {said or 'ok'} in {took:.0f} ms."


__all__ = ["Message", "Notifier", "NotifierError", "NOTIFIERS", "notifier_for", "send_test", "validate_config"]
