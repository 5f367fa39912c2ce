"""Slack incoming webhook: a Block Kit message in an attachment coloured by severity and event."""

from .base import Message, Notifier, Sent, Setting
from .http import delivered, dumps, send_json, url_problem
from .rendering import render

COLOURS = {"critical": "#E01E5A", "warning": "#ECB22E", "info": "#36C5F0"}
RESOLVED_COLOUR = "#2EB67D"
PROBLEM_COLOUR = "#6B7280"  # error / no data: Sentinel cannot tell, grey


def colour(event: str, severity: str) -> str:
    if event == "resolved":
        return RESOLVED_COLOUR
    if event in ("error", "no_data"):
        return PROBLEM_COLOUR
    return COLOURS.get(severity, COLOURS["warning"])


def mrkdwn(text: str) -> str:
    """Slack's three control characters, escaped the way its docs ask."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def check_hook_url(config: dict, field: str, errors: dict) -> None:
    url = config.get(field)
    if isinstance(url, str) and url and "${" not in url:
        problem = url_problem(url)
        if problem:
            errors[field] = problem[0].upper() + problem[1:] + "."
    elif url is not None and not isinstance(url, str):
        errors[field] = "Must be a URL (text)."


class Slack(Notifier):
    kind = "slack"
    label = "Slack"
    via_label = "Slack"
    fields = (
        Setting("webhook_url", "the incoming webhook's URL", "${SLACK_WEBHOOK_URL}", required=True, secret=True,
                destination=True),
        Setting("username", "the name the messages show"),
        Setting("channel", "post to this channel instead of the webhook's own, e.g. #alerts"),
    )
    max_payload_bytes = 32 * 1024  # Slack refuses larger messages; its blocks take 3,000 characters each

    @classmethod
    def validate(cls, config: dict) -> dict[str, str]:
        errors = super().validate(config)
        check_hook_url(config, "webhook_url", errors)
        for name in ("username", "channel"):
            if name in config and not isinstance(config[name], str):
                errors[name] = "Must be text."
        return errors

    def blocks(self, message: Message) -> tuple[str, list[dict]]:
        r = render(message, self.kind)
        c = r.context
        fields = [f"*Severity*\n{c['severity']}", f"*State*\n{c['state']}"]
        if c["value"] is not None:
            fields.append(f"*Value*\n{c['value_display']}")
        if c["threshold"] is not None:
            fields.append(f"*Threshold*\n{c['threshold_display']}")
        fields += [f"*{k}*\n{v}" for k, v in list(c["context"].items())[:6]]
        blocks = [
            {"type": "header", "text": {"type": "plain_text", "text": r.subject[:150], "emoji": False}},
            {"type": "section", "text": {"type": "mrkdwn", "text": mrkdwn(r.text)[:2900]}},
            {"type": "section", "fields": [{"type": "mrkdwn", "text": mrkdwn(f)[:2000]} for f in fields[:10]]},
        ]
        buttons = [("Open alert", c["links"].get("alert")), ("Silence 1 h", c["links"].get("silence_1h")),
                   ("Silence 24 h", c["links"].get("silence_24h"))]
        blocks.append({"type": "actions", "elements": [
            {"type": "button", "text": {"type": "plain_text", "text": label}, "url": url}
            for label, url in buttons if url
        ]})
        return r.subject, blocks

    def payload(self, message: Message) -> dict:
        subject, blocks = self.blocks(message)
        body = {
            # The notification preview and the fallback for old clients. Slack reads it as mrkdwn, so query
            # data in the subject is escaped: a value of <!channel> must not page the whole channel.
            "text": mrkdwn(subject),
            "attachments": [{"color": colour(message.event, message.payload["alert"].get("severity", "")),
                             "blocks": blocks}],
        }
        for name in ("username", "channel"):
            if self.config.get(name):
                body[name] = self.setting(name)
        return body

    def send(self, message: Message) -> Sent:
        return delivered(send_json(self.setting("webhook_url"), dumps(self.payload(message)), {}))
