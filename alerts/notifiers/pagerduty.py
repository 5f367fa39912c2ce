"""PagerDuty Events API v2: trigger on a problem, resolve on recovery, one dedup key per (alert, instance)."""

import hashlib

from .base import Message, Notifier, Sent, Setting
from .http import delivered, dumps, send_json
from .rendering import render
from .slack import check_hook_url

EVENTS_URL = "https://events.pagerduty.com/v2/enqueue"
SEVERITIES = {"critical": "critical", "warning": "warning", "info": "info"}


def dedup_key(payload: dict) -> str:
    """sentinel/<alert id>[/<instance key>]; hashed when it would pass PagerDuty's 255 characters."""
    key = f"sentinel/{payload['alert']['id']}"
    if payload.get("instance_key"):
        key += "/" + payload["instance_key"]
    if len(key) > 255:
        key = f"sentinel/{payload['alert']['id']}/sha256:" + hashlib.sha256(key.encode()).hexdigest()
    return key


class PagerDuty(Notifier):
    kind = "pagerduty"
    label = "PagerDuty"
    via_label = "PagerDuty"
    fields = (
        Setting("routing_key", "the Events API v2 integration key", "${PAGERDUTY_ROUTING_KEY}", required=True,
                secret=True, destination=True),
        Setting("url", f"the Events API endpoint; default {EVENTS_URL}", destination=True),
    )
    drops_duplicates = True  # PagerDuty folds events with the same dedup_key into one incident

    @classmethod
    def validate(cls, config: dict) -> dict[str, str]:
        errors = super().validate(config)
        key = config.get("routing_key")
        if key is not None and not isinstance(key, str):
            errors["routing_key"] = "Must be text (the integration key, usually ${VAR})."
        check_hook_url(config, "url", errors)
        return errors

    def event(self, message: Message) -> dict:
        p = message.payload
        body = {"routing_key": self.setting("routing_key"), "dedup_key": dedup_key(p)}
        if message.event == "resolved":
            return {**body, "event_action": "resolve"}
        r = render(message, self.kind)
        c = r.context
        severity = "error" if message.event == "error" else SEVERITIES.get(c["severity"], "warning")
        details = {"state": c["state"], "value": c["value"], "threshold": c["threshold"], **c["context"]}
        if c["error"]:
            details["error"] = c["error"]
        event = {
            **body,
            "event_action": "trigger",
            "client": "Sentinel",
            "client_url": c["links"].get("alert", ""),
            "payload": {
                "summary": r.subject[:1024],
                "source": p["alert"]["name"],
                "severity": severity,
                "class": message.event,
                "custom_details": details,
            },
            "links": [{"href": url, "text": text} for text, url in (
                ("Alert in Sentinel", c["links"].get("alert")), ("Execution", c["links"].get("execution")),
                ("Silence 1 h", c["links"].get("silence_1h")), ("Silence 24 h", c["links"].get("silence_24h")),
            ) if url],
        }
        if c["instance_key"]:
            event["payload"]["component"] = c["instance_key"]
        return event

    def send(self, message: Message) -> Sent:
        url = self.setting("url", EVENTS_URL) or EVENTS_URL
        return delivered(send_json(url, dumps(self.event(message)), {}))
