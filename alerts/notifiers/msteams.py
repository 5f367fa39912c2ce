"""Microsoft Teams incoming webhook (Workflows or legacy connector): an Adaptive Card."""

from .base import Message, Notifier, Sent, Setting
from .http import delivered, dumps, send_json
from .rendering import render
from .slack import check_hook_url

# Adaptive Card text colours by event and severity.
def card_colour(event: str, severity: str) -> str:
    if event == "resolved":
        return "Good"
    if event in ("error", "no_data"):
        return "Default"
    return "Attention" if severity == "critical" else "Warning" if severity == "warning" else "Accent"


class MSTeams(Notifier):
    kind = "msteams"
    label = "Microsoft Teams"
    via_label = "Teams"
    fields = (
        Setting("webhook_url", "the Workflows (or legacy connector) webhook URL", "${TEAMS_WEBHOOK_URL}",
                required=True, secret=True, destination=True),
    )
    max_payload_bytes = 24 * 1024  # Teams refuses cards over 28 KB

    @classmethod
    def validate(cls, config: dict) -> dict[str, str]:
        errors = super().validate(config)
        check_hook_url(config, "webhook_url", errors)
        return errors

    def card(self, message: Message) -> dict:
        r = render(message, self.kind)
        c = r.context
        facts = [{"title": "Severity", "value": str(c["severity"])}, {"title": "State", "value": str(c["state"])}]
        if c["value"] is not None:
            facts.append({"title": "Value", "value": c["value_display"]})
        if c["threshold"] is not None:
            facts.append({"title": "Threshold", "value": c["threshold_display"]})
        facts += [{"title": str(k), "value": str(v)} for k, v in list(c["context"].items())[:8]]
        body = [
            {"type": "TextBlock", "text": r.subject, "weight": "Bolder", "size": "Medium", "wrap": True,
             "color": card_colour(message.event, str(c["severity"]))},
            {"type": "FactSet", "facts": facts},
        ]
        if c["error"]:
            body.append({"type": "TextBlock", "text": c["error"][:1000], "wrap": True, "fontType": "Monospace"})
        if c["alert"].get("description"):
            body.append({"type": "TextBlock", "text": c["alert"]["description"], "wrap": True, "isSubtle": True})
        actions = [{"type": "Action.OpenUrl", "title": title, "url": url} for title, url in (
            ("Open alert", c["links"].get("alert")), ("Open execution", c["links"].get("execution")),
            ("Silence 1 h", c["links"].get("silence_1h")), ("Silence 24 h", c["links"].get("silence_24h")),
        ) if url]
        return {
            "type": "message",
            "summary": r.subject,
            "attachments": [{
                "contentType": "application/vnd.microsoft.card.adaptive",
                "content": {"$schema": "http://adaptivecards.io/schemas/adaptive-card.json", "type": "AdaptiveCard",
                            "version": "1.4", "body": body, "actions": actions, "msteams": {"width": "Full"}},
            }],
        }

    def send(self, message: Message) -> Sent:
        return delivered(send_json(self.setting("webhook_url"), dumps(self.card(message)), {}))
