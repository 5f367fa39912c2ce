"""Signed, expiring links that silence one alert from a message, without a login.

A token names the alert, the silence length, the channel kind it was sent
through and its expiry, signed with SECRET_KEY (django.core.signing, its own
salt); nothing is stored. The token depends only on the message, so every retry
of a message carries the same links and the same webhook signature.
"""

from dataclasses import dataclass
from datetime import datetime, timezone as tz

from django.conf import settings
from django.core import signing
from django.urls import reverse

SALT = "sentinel.silence-link"
SILENCE_HOURS = (1, 24)


class LinkError(Exception):
    pass


@dataclass(frozen=True)
class SilenceGrant:
    alert_id: int
    hours: int
    via: str  # the channel kind the link was sent through (its words: alerts.notifiers.via_label)
    expires_at: datetime


def make_token(alert_id: int, hours: int, via: str, issued_at: datetime) -> str:
    expires = int(issued_at.timestamp()) + settings.SENTINEL_SILENCE_LINK_HOURS * 3600
    return signing.Signer(salt=SALT).sign_object({"a": alert_id, "h": hours, "v": via, "e": expires})


def read_token(token: str, now: datetime | None = None) -> SilenceGrant:
    """The grant a token carries; LinkError when it was tampered with or has expired."""
    try:
        data = signing.Signer(salt=SALT).unsign_object(token)
        grant = SilenceGrant(int(data["a"]), int(data["h"]), str(data["v"]),
                             datetime.fromtimestamp(int(data["e"]), tz.utc))
    except (signing.BadSignature, KeyError, TypeError, ValueError):
        raise LinkError("This silence link is not valid (it may have been cut short or altered).") from None
    now = now or datetime.now(tz.utc)
    if now >= grant.expires_at:
        raise LinkError(f"This silence link expired at {grant.expires_at:%Y-%m-%d %H:%M} UTC.")
    if grant.hours not in SILENCE_HOURS:
        raise LinkError("This silence link is not valid.")
    return grant


def silence_url(alert_id: int, hours: int, via: str, issued_at: datetime) -> str:
    token = make_token(alert_id, hours, via, issued_at)
    return settings.SENTINEL_BASE_URL + reverse("silence-link", args=[token])


def issued_at(payload: dict) -> datetime:
    """The moment a message's links count from: its event time (fixed in the payload)."""
    times = payload.get("times") or {}
    text = times.get("event_at") or (payload.get("execution") or {}).get("started_at")
    try:
        return datetime.fromisoformat(text)
    except (TypeError, ValueError):
        return datetime.now(tz.utc)


def silence_links(payload: dict, via: str) -> dict[str, str]:
    """silence_1h and silence_24h for a message that calls for action; none for a resolution."""
    if payload.get("event") == "resolved" or not (payload.get("alert") or {}).get("id"):
        return {}
    when = issued_at(payload)
    alert_id = payload["alert"]["id"]
    return {f"silence_{h}h": silence_url(alert_id, h, via, when) for h in SILENCE_HOURS}
