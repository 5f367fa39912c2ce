"""SECRET_KEY: the operator's, or on a laptop one made for this machine (docs/security.md §8).

The key signs sessions, CSRF tokens and silence links: whoever knows it can forge a
silence link for any alert. So a key published with Sentinel's source is refused
everywhere, and a deployment (DATABASE_URL set) must give its own, shared by all its
processes. Embedded mode (`make run`) makes a random one once, in var/secret_key (0600).
"""

import os
from pathlib import Path

from django.core.exceptions import ImproperlyConfigured
from django.core.management.utils import get_random_secret_key

# Keys that were ever written in this repository: anyone can read them.
PUBLIC_KEYS = frozenset({
    "sentinel-insecure-development-key-set-SECRET_KEY-in-production",
    "compose-local-only-set-SECRET_KEY-for-real-deploys",
})
HOW = "set SECRET_KEY (or SECRET_KEY_FILE) to a long random value, e.g. " \
      "python -c 'import secrets; print(secrets.token_urlsafe(50))'"


def secret_key(configured: str, *, deployed: bool, debug: bool, var_dir: Path) -> str:
    """The key to use, or ImproperlyConfigured saying what to set (never the key itself)."""
    if configured in PUBLIC_KEYS:
        raise ImproperlyConfigured(f"SECRET_KEY is a key published with Sentinel's source, so anyone could forge "
                                   f"silence links and sessions: {HOW}.")
    if configured:
        return configured
    if deployed and not debug:
        raise ImproperlyConfigured(f"SECRET_KEY is not set. With DATABASE_URL set this is a deployment, whose "
                                   f"processes must share one key: {HOW}.")
    return machine_key(var_dir / "secret_key")


def machine_key(path: Path) -> str:
    """The key in `path`, made (random, mode 0600) by whichever process gets there first."""
    if not path.exists():
        temporary = path.with_name(f".{path.name}.{os.getpid()}")
        fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write(get_random_secret_key() + "\n")
            fh.flush()
            os.fsync(fh.fileno())
        try:
            os.link(temporary, path)  # atomic and never replaces: web, worker and beat start together
        except FileExistsError:
            pass
        finally:
            temporary.unlink()
    try:
        key = path.read_text().strip()
    except OSError as exc:
        raise ImproperlyConfigured(f"{path} cannot be read ({exc.strerror}): {HOW}.") from None
    if not key:
        raise ImproperlyConfigured(f"{path} is empty: delete it to have a new key made, or {HOW}.")
    return key
