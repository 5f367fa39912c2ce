"""${VAR} expansion for definitions, and keeping what it yields out of sight."""

import os
import re

from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

_REFERENCE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")


class MissingVariable(Exception):
    def __init__(self, name: str, where: str = ""):
        self.name = name
        place = f" (used in {where})" if where else ""
        super().__init__(f"Environment variable {name} is not set{place}.")


def references(text: str) -> list[str]:
    return [m.group(1) for m in _REFERENCE.finditer(text or "")]


def expand(text: str, where: str = "", environ=None) -> str:
    """Replace ${VAR} and ${VAR:-default}; an unset VAR without a default raises MissingVariable."""
    environ = os.environ if environ is None else environ

    def replace(match: re.Match) -> str:
        name, default = match.group(1), match.group(2)
        if name in environ:
            return environ[name]
        if default is not None:
            return default
        raise MissingVariable(name, where)

    return _REFERENCE.sub(replace, text)


def mask_url(url: str) -> str:
    """The URL with any password replaced by ***; ${VAR} references are shown as written."""
    try:
        parsed = make_url(url)
    except (ArgumentError, ValueError):
        return re.sub(r"//([^:/@]*):[^@]*@", r"//\1:***@", url)
    if parsed.password is None:
        return url
    return parsed.render_as_string(hide_password=True)


def secret_values(url: str) -> list[str]:
    """The parts of an expanded URL that must never be shown."""
    values = []
    try:
        parsed = make_url(url)
        if parsed.password:
            values.append(str(parsed.password))
    except (ArgumentError, ValueError):
        pass
    return values


def scrub(text: str, secrets) -> str:
    for secret in sorted({s for s in secrets if s and len(s) >= 3}, key=len, reverse=True):
        text = text.replace(secret, "***")
    return text
