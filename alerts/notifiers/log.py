"""A structured log line in the worker's output: the channel that works with no setup at all."""

import json
import logging

from .base import Message, Notifier, Sent

log = logging.getLogger("sentinel.notify")


class LogNotifier(Notifier):
    """A structured log line: the channel that works with no setup at all."""

    kind = "log"
    label = "Log line"
    about = "it writes a log line"

    def send(self, message: Message) -> Sent:
        p = message.payload
        log.warning(
            "%s %s",
            message.title,
            json.dumps(
                {
                    "notification": message.notification_id,
                    "event": p["event"],
                    "alert": p["alert"]["name"],
                    "instance": p["instance_key"],
                    "state": p["state"],
                    "value": p["value"],
                    "threshold": p["threshold"],
                    "execution": p["execution"]["id"],
                },
                default=str,
            ),
        )
        return Sent()
