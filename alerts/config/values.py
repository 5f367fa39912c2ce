"""Readers for the value types a config file holds, each raising Invalid with a message
that says what was expected; and the writers that turn stored values back into text."""

from datetime import timedelta

from ..durations import DurationError, parse_duration

_TRUE = {"true", "yes", "on", "1"}
_FALSE = {"false", "no", "off", "0"}


class Invalid(Exception):
    pass


def text(value, *, allow_empty: bool = True) -> str:
    if not isinstance(value, str):
        raise Invalid(f"Must be text, not {describe(value)}.")
    if not allow_empty and not value.strip():
        raise Invalid("Must not be empty.")
    return value


def boolean(value) -> bool:
    # SQL Sentinel (pydantic) also takes "yes"/"on"/"1" as text; so do we, but never "maybe".
    if isinstance(value, bool):
        return value
    if isinstance(value, int) and value in (0, 1):
        return bool(value)
    if isinstance(value, str) and value.strip().lower() in _TRUE | _FALSE:
        return value.strip().lower() in _TRUE
    raise Invalid(f"Must be true or false, not {describe(value)}.")


def number(value) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise Invalid(f"Must be a number, not {describe(value)}.")
    return value


def integer(value, minimum: int = 0) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise Invalid(f"Must be a whole number, not {describe(value)}.")
    if value < minimum:
        raise Invalid(f"Must be at least {minimum}.")
    return value


def choice(value, choices) -> str:
    choices = [str(c) for c in choices]
    if not isinstance(value, str) or value not in choices:
        raise Invalid(f"Must be one of {', '.join(choices)}; got {describe(value)}.")
    return value


def duration(value) -> timedelta:
    """'30s', '5m', '1h30m', '1d' or a number of seconds: the one syntax of alerts/durations.py."""
    try:
        return parse_duration(value)
    except DurationError as exc:
        raise Invalid(str(exc)) from None


def string_list(value, *, allow_empty: bool = False) -> list[str]:
    if isinstance(value, str):
        items = [v.strip() for v in value.split(",") if v.strip()]
    elif isinstance(value, list) and all(isinstance(v, str) for v in value):
        items = [v.strip() for v in value if v.strip()]
    else:
        raise Invalid(f"Must be a list of names (or one comma-separated text), not {describe(value)}.")
    if not items and not allow_empty:
        raise Invalid("Must name at least one.")
    return items


def describe(value) -> str:
    if value is None:
        return "nothing (null)"
    if isinstance(value, bool):
        return f"{str(value).lower()} (a true/false)"
    if isinstance(value, (int, float)):
        return f"{value!r} (a number)"
    if isinstance(value, str):
        return repr(value)
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "a mapping"
    return type(value).__name__
