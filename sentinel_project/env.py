"""Strict readers for settings that come from the environment."""

import os

from django.core.exceptions import ImproperlyConfigured

_TRUE = {"true", "1", "yes", "on"}
_FALSE = {"false", "0", "no", "off", ""}

# Every variable Sentinel's own settings read (filled as the settings module reads them), and the
# ones libraries read by themselves: a definition's ${VAR} may never name one (docs/security.md §2).
_READ: set[str] = set()
OWN_PATTERNS = ("DJANGO_*", "CELERY_*", "FLOWER_*", "SENTRY_*", "SECRET_KEY*", "DATABASE_*", "REDIS_*",
                "EMAIL_*", "SMTP_*", "SENTINEL_METRICS_*", "POSTGRES_*")


def settings_variables() -> frozenset[str]:
    """The names of the environment variables Sentinel's settings have read (and their _FILE twins)."""
    return frozenset(_READ | {f"{name}_FILE" for name in _READ})


def _read(name: str) -> str:
    _READ.add(name)
    return name


def env(name: str, default: str = "") -> str:
    return os.environ.get(_read(name), default)


def envbool(name: str, default: bool = False) -> bool:
    raw = os.environ.get(_read(name))
    if raw is None:
        return default
    value = raw.strip().lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise ImproperlyConfigured(f"{name}={raw!r} is not a boolean: use true or false")


def envint(name: str, default: int) -> int:
    raw = os.environ.get(_read(name))
    if raw is None or raw.strip() == "":
        return default
    try:
        return int(raw)
    except ValueError:
        raise ImproperlyConfigured(f"{name}={raw!r} is not a whole number") from None


def envlist(name: str, default: str = "") -> list[str]:
    return [item.strip() for item in os.environ.get(_read(name), default).split(",") if item.strip()]


def envsecret(name: str, default: str = "") -> str:
    """Read NAME, or the file named by NAME_FILE (Docker and Kubernetes secrets)."""
    path = os.environ.get(f"{_read(name)}_FILE")
    if path:
        try:
            with open(path, encoding="utf-8") as fh:
                return fh.read().strip()
        except OSError as exc:
            raise ImproperlyConfigured(f"{name}_FILE={path!r} cannot be read: {exc.strerror}") from None
    return os.environ.get(name, default)
