"""Secrets out of sight: what export and the API show instead of a stored secret,
and how a masked value coming back (an exported file re-applied) keeps the stored one.

${VAR} references are shown as written: they name a secret, they are not one.
"""

from ..notifiers import NOTIFIERS
from ..secrets import mask_url

MASK = "***"
SAFE_HEADERS = {"content-type", "accept", "user-agent", "x-request-id"}


def mask_value(value):
    if not isinstance(value, str) or "${" in value or not value:
        return value
    if "://" in value:
        scheme, rest = value.split("://", 1)
        host = rest.split("/", 1)[0].split("?", 1)[0].rsplit("@", 1)[-1]
        return f"{scheme}://{host}/{MASK}"
    return MASK


def _secret_fields(kind: str) -> set[str]:
    return set(getattr(NOTIFIERS.get(kind), "secret_fields", ()))


def mask_config(kind: str, config: dict) -> dict:
    secret = _secret_fields(kind)
    out = {}
    for key, value in (config or {}).items():
        if key in secret:
            out[key] = mask_value(value)
        elif key == "headers" and isinstance(value, dict):
            out[key] = {h: (x if h.lower() in SAFE_HEADERS else mask_value(x)) for h, x in value.items()}
        else:
            out[key] = value
    return out


def mask_datasource_url(url: str) -> str:
    return url if "${" in url and mask_url(url) == url else mask_url(url)


def holds_mask(value) -> bool:
    if isinstance(value, str):
        return MASK in value
    if isinstance(value, dict):
        return any(holds_mask(x) for x in value.values())
    if isinstance(value, list):
        return any(holds_mask(x) for x in value)
    return False


def unmask_config(kind: str, incoming: dict, stored: dict | None) -> tuple[dict, list[str]]:
    """Put stored secrets back where `incoming` holds their mask; returns (config, keys it could not restore)."""
    stored = stored or {}
    masked_stored = mask_config(kind, stored)
    out, lost = {}, []
    for key, value in incoming.items():
        if not holds_mask(value):
            out[key] = value
        elif isinstance(value, dict) and isinstance(stored.get(key), dict):
            inner = {}
            for h, x in value.items():
                if holds_mask(x) and masked_stored[key].get(h) == x:
                    inner[h] = stored[key][h]
                elif holds_mask(x):
                    lost.append(f"{key}.{h}")
                else:
                    inner[h] = x
            out[key] = inner
        elif key in masked_stored and masked_stored[key] == value:
            out[key] = stored[key]
        else:
            lost.append(key)
    return out, lost
