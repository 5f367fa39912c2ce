"""The one duration syntax every face reads and writes: files, the CLI, the API
and the admin all say `30s`, `90m`, `1h30m`, `1d`.

parse_duration() reads it (or a plain number of seconds, as YAML gives);
format_duration() writes the shortest text that parse_duration() reads back
to the same value, so a stored interval shows the way people type it."""

import re
from datetime import timedelta

UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
_PART = re.compile(r"(\d+(?:\.\d+)?)\s*([smhdw])")
MAX_DAYS = 366
EXAMPLES = "30s, 5m, 2h, 1d, 1h30m"


class DurationError(ValueError):
    """A text that is not a duration; the message says what would be."""


def parse_duration(value) -> timedelta:
    """'30s', '90m', '1h30m', '1d', '1.5h' or a number of seconds -> timedelta (> 0, at most MAX_DAYS)."""
    if isinstance(value, timedelta):
        seconds = value.total_seconds()
    elif isinstance(value, bool):  # a YAML `yes` is not one second
        raise DurationError(f"Must be a duration such as {EXAMPLES}, not a true/false.")
    elif isinstance(value, (int, float)):
        seconds = float(value)
    elif isinstance(value, str):
        cleaned = value.strip().lower()
        parts = _PART.findall(cleaned)
        if not parts or _PART.sub("", cleaned).strip():
            raise DurationError(f"Cannot read duration {value!r}: use forms like {EXAMPLES}.")
        seconds = sum(float(n) * UNITS[u] for n, u in parts)
    else:
        raise DurationError(f"Must be a duration such as {EXAMPLES}, not {value!r}.")
    if seconds <= 0:
        raise DurationError("Must be longer than zero.")
    if seconds > MAX_DAYS * 86400:
        raise DurationError(f"Must be at most {MAX_DAYS} days.")
    return timedelta(seconds=seconds)


def format_duration(value: timedelta | float | None) -> str:
    """The shortest text parse_duration() reads back to the same value: 5400 s -> '1h30m'; None -> ''."""
    if value is None:
        return ""
    seconds = value.total_seconds() if isinstance(value, timedelta) else float(value)
    if seconds != int(seconds):
        return f"{seconds:g}s"
    seconds, out = int(seconds), ""
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60), ("s", 1)):
        if seconds >= size:
            out += f"{seconds // size}{unit}"
            seconds %= size
    return out or "0s"
