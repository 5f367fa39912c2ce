"""A JSON POST (or PUT) of the versioned payload, signed with the channel's secret."""

import hashlib
import hmac

from .. import links
from .base import Message, Notifier, NotifierError, Sent, Setting
from .http import delivered, dumps, send_json, url_problem

SIGNATURE_HEADER = "X-Sentinel-Signature"
IDEMPOTENCY_HEADER = "Idempotency-Key"
# Headers Sentinel sets itself; a channel may not replace them.
RESERVED_HEADERS = {"content-type", "content-length", "host", SIGNATURE_HEADER.lower(), IDEMPOTENCY_HEADER.lower()}


def body_for(message: Message, via: str = "webhook") -> dict:
    """The payload as sent: the runner's version-1 payload, its silence links added."""
    payload = dict(message.payload)
    payload["links"] = {**(payload.get("links") or {}), **links.silence_links(payload, via)}
    payload["notification"] = {"id": message.notification_id, "idempotency_key": message.idempotency_key}
    return payload


def sign(secret: str, body: bytes) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


class Webhook(Notifier):
    kind = "webhook"
    label = "Webhook"
    fields = (
        Setting("url", "where the JSON payload is sent", "https://hooks.example.com/sentinel", required=True,
                secret=True, destination=True),
        Setting("method", "POST (default) or PUT"),
        Setting("headers", "extra request headers, name → text (their values are shown as ***)", {}),
        Setting("secret", "HMAC-SHA256 key: the X-Sentinel-Signature header signs each body", "${WEBHOOK_SECRET}",
                secret=True),
    )
    drops_duplicates = True  # every retry carries the same Idempotency-Key header

    @classmethod
    def validate(cls, config: dict) -> dict[str, str]:
        errors = super().validate(config)
        url = config.get("url")
        if isinstance(url, str) and url and "${" not in url:
            problem = url_problem(url)
            if problem:
                errors["url"] = problem[0].upper() + problem[1:] + "."
        elif url is not None and not isinstance(url, str):
            errors["url"] = "Must be a URL (text)."
        method = config.get("method", "POST")
        if not isinstance(method, str) or method.upper() not in ("POST", "PUT"):
            errors["method"] = "Must be POST or PUT."
        headers = config.get("headers", {})
        if not isinstance(headers, dict) or not all(isinstance(k, str) and isinstance(v, str)
                                                    for k, v in headers.items()):
            errors["headers"] = "Must be a mapping of header names to text values."
        else:
            reserved = sorted(k for k in headers if k.lower() in RESERVED_HEADERS)
            if reserved:
                errors["headers"] = f"Sentinel sets {', '.join(reserved)} itself."
        if "secret" in config and not isinstance(config["secret"], str):
            errors["secret"] = "Must be text (an HMAC-SHA256 key, usually ${VAR})."
        return errors

    def secrets(self) -> list[str]:
        values = super().secrets()
        for name in (self.config.get("headers") or {}):
            try:
                values.append(self.header_value(name))
            except NotifierError:
                pass
        return values

    def header_value(self, name: str) -> str:
        return self.expand_value((self.config.get("headers") or {})[name], f"headers.{name}")

    def send(self, message: Message) -> Sent:
        url = self.setting("url")
        body = dumps(body_for(message))
        headers = {name: self.header_value(name) for name in (self.config.get("headers") or {})}
        headers["X-Sentinel-Event"] = message.event
        if message.idempotency_key:
            headers[IDEMPOTENCY_HEADER] = message.idempotency_key
        secret = self.setting("secret")
        if secret:
            headers[SIGNATURE_HEADER] = sign(secret, body)
        return delivered(send_json(url, body, headers, method=str(self.config.get("method") or "POST").upper()))
