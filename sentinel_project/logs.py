"""LOG_FORMAT=json: one JSON object per line, ids as fields a log pipeline can index.

Sentinel's loggers write `key=%s` pairs ("alert=%s execution=%s status=%s");
the formatter lifts each pair into a field of its own, so the runner and the
delivery code need not know which format is on.
"""

import json
import logging
import re
from datetime import datetime, timezone

# An optional `name=` right before each %-placeholder.
_PLACEHOLDER = re.compile(r"(?:(?<![\w.])([a-z_]+)=)?(%[-#0 +]*\d*(?:\.\d+)?[a-zA-Z%])")
_FIELDS = {"alert", "alert_id", "execution", "notification", "channel", "event", "status", "tick", "state",
           "notifications", "attempt", "schedule"}


def fields_of(record: logging.LogRecord) -> dict:
    """The `name=%s` pairs of the record's format, with their arguments."""
    if not isinstance(record.msg, str) or not isinstance(record.args, tuple):
        return {}
    out, args = {}, iter(record.args)
    for match in _PLACEHOLDER.finditer(record.msg):
        if match.group(2) == "%%":
            continue
        value = next(args, None)
        name = match.group(1)
        if name in _FIELDS and value is not None:
            out[name] = value if isinstance(value, (int, float, bool)) else str(value)
    return out


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        line = {
            "time": datetime.fromtimestamp(record.created, timezone.utc).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        line.update(fields_of(record))
        for key in ("task_id", "task_name"):  # set by Celery's task logger
            if hasattr(record, key):
                line[key] = getattr(record, key)
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        return json.dumps(line, default=str, ensure_ascii=False)
