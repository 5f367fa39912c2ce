"""Secrets in definitions: the one place that expands ${VAR}, masks what must not be shown,
and scrubs what was expanded out of every text that leaves (docs/security.md §2, §4).

- `expand` reads only the variables the operator allows (SENTINEL_ENV_ALLOW), never one of
  Sentinel's own settings variables, and remembers each value it read, so `scrub` takes it
  out of every error, log line and message, wherever it turns up.
- `mask_url`, `mask_secret`, `mask_config` are what the admin (editable and read-only pages),
  the API, export, logs and Sentry show instead of a secret. ${VAR} references are shown as
  written (they name a secret, they are not one); every literal part of a secret is ***.
- `restore_config` and `restore_url` put a stored secret back where a form or file returns
  its mask, but never carry it to a new destination.
"""

import fnmatch
import os
import re
import threading
from urllib.parse import quote

MASK = "***"
_REFERENCE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")


class MissingVariable(Exception):
    """A ${VAR} that cannot be expanded: `reason` says why, `hint` (if any) what to do."""

    def __init__(self, name: str, where: str = "", reason: str = "is not set", hint: str | None = None):
        self.name = name
        self.reason = reason
        self.hint = f"set it, or write ${{{name}:-default}}" if hint is None else hint
        place = f" (used in {where})" if where else ""
        super().__init__(f"Environment variable {name} {reason}{place}.")

    def problem(self) -> str:
        """The refusal as a save-time message (no value: only the name)."""
        return f"Environment variable {self.name} {self.reason}" + (f" ({self.hint})." if self.hint else ".")


class VariableNotAllowed(MissingVariable):
    pass


def references(text: str) -> list[str]:
    return [m.group(1) for m in _REFERENCE.finditer(text or "")]


def refusal(name: str) -> str:
    """Why definitions may not read the environment variable `name` ('' when they may)."""
    from django.conf import settings

    from sentinel_project.env import OWN_PATTERNS, settings_variables

    if name in settings_variables() or any(fnmatch.fnmatchcase(name, p) for p in OWN_PATTERNS):
        return "is one of Sentinel's own settings: definitions can never read it"
    for pattern in getattr(settings, "SENTINEL_ENV_ALLOW", ()):
        if name == pattern or (pattern.endswith("*") and name.startswith(pattern[:-1])):
            return ""
    return "is not allowed: the operator lists the variables definitions may read in SENTINEL_ENV_ALLOW"


# Every value expand() read from the environment in this process. Bounded: values come from the
# environment, whose size is fixed; scrub() removes them from any text.
_expanded: set[str] = set()
_expanded_lock = threading.Lock()


def expand(text: str, where: str = "", environ=None) -> str:
    """Replace ${VAR} and ${VAR:-default}. A VAR the operator does not allow raises VariableNotAllowed
    (a default does not help: the name itself is refused); an unset one without a default MissingVariable."""
    environ = os.environ if environ is None else environ

    def replace(match: re.Match) -> str:
        name, default = match.group(1), match.group(2)
        why = refusal(name)
        if why:
            raise VariableNotAllowed(name, where, why, hint="")
        if name in environ:
            value = environ[name]
            if len(value) >= 3:
                with _expanded_lock:
                    _expanded.add(value)
            return value
        if default is not None:
            return default
        raise MissingVariable(name, where)

    return _REFERENCE.sub(replace, text)


def expanded_values() -> list[str]:
    with _expanded_lock:
        return list(_expanded)


def secret_values(url: str) -> list[str]:
    """The parts of an expanded URL that must never be shown: its password and query-string secrets."""
    parts = _split(url)
    if parts is None:
        return []
    values = [parts["password"]] if parts["password"] else []
    values += [v for k, v in parts["query"] if v and is_secret_name(k)]
    return values


def scrub(text: str, secrets=()) -> str:
    """`text` with every given secret, and every value expand() has read, replaced by ***."""
    values = {s for s in (*secrets, *expanded_values()) if isinstance(s, str) and len(s) >= 3}
    values |= {quote(s, safe="") for s in values}  # as a URL or a driver quotes it back
    for secret in sorted(values, key=len, reverse=True):
        text = text.replace(secret, MASK)
    return text


# --- masking: what is shown instead of a secret ------------------------------------------------------

# Names of URL query parameters, config keys and headers whose values are secrets.
_SECRET_NAME = re.compile(r"pass|pwd|secret|token|key|auth|credential|signature|^sig$|private|session|cookie|"
                          r"dsn", re.IGNORECASE)
# Headers whose values say nothing secret; every other header value is masked.
SAFE_HEADERS = {"content-type", "accept", "user-agent", "x-request-id"}


def is_secret_name(name: str) -> bool:
    return bool(_SECRET_NAME.search(name or ""))


def mask_text(value: str) -> str:
    """Every literal part of a secret text replaced by ***; ${VAR} references shown as written
    (a default's text is a literal: masked too)."""
    if not isinstance(value, str) or not value:
        return value
    out, pos = [], 0
    for m in _REFERENCE.finditer(value):
        if m.start() > pos:
            out.append(MASK)
        out.append(f"${{{m.group(1)}:-{MASK}}}" if m.group(2) else m.group(0))
        pos = m.end()
    if pos < len(value):
        out.append(MASK)
    return "".join(out)


_SCHEME = re.compile(r"^([A-Za-z][A-Za-z0-9+.\-]*)://")


def _split(url: str) -> dict | None:
    """scheme://user:password@host/path?query, split without decoding. A password may hold '/' or ':'
    (it ends at the last '@' before the query); None when this is not a URL."""
    if not isinstance(url, str):
        return None
    m = _SCHEME.match(url)
    if not m:
        return None
    after = url[m.end():]
    head = after.split("?", 1)[0]
    at = head.rfind("@")
    userinfo, hostpath = (after[:at], after[at + 1:]) if at >= 0 else (None, after)
    user, password = (userinfo.split(":", 1) + [None])[:2] if userinfo is not None else (None, None)
    hostpath, _, query = hostpath.partition("?")
    host, slash, path = hostpath.partition("/")
    pairs = [tuple(p.split("=", 1)) if "=" in p else (p, None) for p in query.split("&")] if query else []
    return {"scheme": m.group(1), "user": user, "password": password, "host": host, "path": slash + path,
            "query": pairs, "has_query": "?" in hostpath or bool(query)}


def _join(parts: dict) -> str:
    userinfo = ""
    if parts["user"] is not None:
        userinfo = parts["user"] + (f":{parts['password']}" if parts["password"] is not None else "") + "@"
    query = "&".join(k if v is None else f"{k}={v}" for k, v in parts["query"])
    return f"{parts['scheme']}://{userinfo}{parts['host']}{parts['path']}" + (f"?{query}" if query else "")


def mask_url(url: str) -> str:
    """A URL that is not itself secret (a datasource's, a receiver's endpoint): its password and
    query-string secrets (?password=, ?token=, api_key, ...) masked; host, port, path shown. Text
    that is no URL is masked as a secret (a ${VAR} reference alone stays visible)."""
    parts = _split(url)
    if parts is None:
        return mask_text(url)
    if parts["password"]:
        parts["password"] = mask_text(parts["password"])
    parts["query"] = [(k, mask_text(v) if v and is_secret_name(k) else v) for k, v in parts["query"]]
    return _join(parts)


def mask_secret(value):
    """A secret setting (a webhook URL whose path is its token, a key, a header): only where a URL
    points (scheme://host/***) and its ${VAR} references stay visible."""
    if not isinstance(value, str):
        return value if value in (None, "", [], {}) else MASK
    parts = _split(value)
    if parts is None:
        return mask_text(value)
    after = value[value.index("://") + 3:]
    at = after.split("?", 1)[0].rfind("@")
    tail = after[at + 1:][len(parts["host"]):]  # the path and query, where tokens live
    userinfo = f"{MASK}@" if parts["user"] is not None else ""
    shown = f"/{mask_text(tail.lstrip('/'))}" if tail.strip("/") else tail
    return f"{parts['scheme']}://{userinfo}{parts['host']}{shown}"


def mask_headers(headers: dict) -> dict:
    return {name: (value if name.lower() in SAFE_HEADERS else mask_secret(value)) for name, value in headers.items()}


def mask_config(config: dict, secret_fields=()) -> dict:
    """A channel's settings as anyone may see them: secret fields and headers masked, URLs' passwords
    and query-string secrets masked, the rest as stored. The kind's secret fields are its notifier's
    word: callers go through alerts.notifiers.mask_config(kind, config)."""
    secret = set(secret_fields)
    out = {}
    for key, value in (config or {}).items():
        if key == "headers" and isinstance(value, dict):
            out[key] = mask_headers(value)
        elif key in secret or (is_secret_name(key) and isinstance(value, str)):
            out[key] = mask_secret(value)
        elif isinstance(value, str) and "://" in value:
            out[key] = mask_url(value)
        else:
            out[key] = value
    return out


_URL_IN_TEXT = re.compile(r"\b[a-zA-Z][a-zA-Z0-9+.\-]*://[^\s'\"<>]*")


def mask_in_text(text: str) -> str:
    """Free text (a log line, an exception) with every URL in it masked as a secret URL."""
    return _URL_IN_TEXT.sub(lambda m: mask_secret(m.group(0)), text)


# --- restoring: a mask sent back stands for the stored value, at the same destination only -----------


def holds_mask(value) -> bool:
    if isinstance(value, str):
        return MASK in value
    if isinstance(value, dict):
        return any(holds_mask(x) for x in value.values())
    if isinstance(value, list):
        return any(holds_mask(x) for x in value)
    return False


NEW_DESTINATION = "Enter the secrets again for the new URL: *** stands for a secret stored for the old one."
NO_STORED = "Holds a masked secret (***), and no stored value has it: write the real value or a ${VAR} reference."


def restore_config(incoming: dict, stored: dict | None, secret_fields=(),
                   destinations=None) -> tuple[dict, list[tuple[str, str]]]:
    """`incoming` with each value that equals the stored value's mask replaced by the stored value;
    (config, [(key, problem)]). Stored secrets never go to a destination (the keys saying where a
    channel posts: url, webhook_url, routing_key; None: every key) other than the stored one: then
    every restored key is a problem. Callers go through alerts.notifiers.restore_config(kind, ...),
    which names the kind's own secret and destination fields (alerts/notifiers/base.py Setting)."""
    stored = stored or {}
    if destinations is None:
        destinations = set(incoming) | set(stored)
    shown = mask_config(stored, secret_fields)
    out, problems, restored = {}, [], []
    for key, value in incoming.items():
        if not holds_mask(value):
            out[key] = value
        elif key == "headers" and isinstance(value, dict):
            headers = {}
            for name, x in value.items():
                if holds_mask(x) and isinstance(stored.get(key), dict) and shown[key].get(name) == x:
                    headers[name] = stored[key][name]
                    restored.append(f"{key}.{name}")
                elif holds_mask(x):
                    problems.append((f"{key}.{name}", NO_STORED))
                else:
                    headers[name] = x
            out[key] = headers
        elif key in shown and shown[key] == value:
            out[key] = stored[key]
            restored.append(key)
        else:
            problems.append((key, NO_STORED))
    if restored and any(out.get(k) != stored.get(k) for k in destinations):
        problems += [(key, NEW_DESTINATION) for key in restored]
    return out, problems


MOVING_OPTIONS = {"host", "hostaddr", "port", "dbname", "database", "service", "servicefile", "unix_socket"}


def _moving(parts: dict) -> list:
    return sorted((o for o in parts["query"] if o[0].lower() in MOVING_OPTIONS), key=str)


def restore_url(incoming: str, stored: str | None) -> tuple[str | None, str]:
    """A datasource URL sent back with *** where its password (or a query-string secret) was:
    (the URL with the stored secrets, '') at the same scheme, host, port and database; otherwise
    (None, what to do)."""
    if not holds_mask(incoming):
        return incoming, ""
    if stored and mask_url(stored) == incoming:
        return stored, ""
    new, old = _split(incoming), _split(stored or "")
    if new is None or old is None:
        return None, ("Holds a masked password (***), and no stored datasource has it: write the real URL "
                      "or a ${VAR} reference.")
    if (new["scheme"], new["host"], new["path"]) != (old["scheme"], old["host"], old["path"]):
        return None, ("Enter the password again for the new host, port or database: *** stands for the "
                      "password stored for the old one.")
    # Some query options move the connection as the host does (the drivers read them over it): while
    # a *** stands in, they must stay as stored. Others (?sslmode=) may change.
    if _moving(new) != _moving(old):
        return None, ("Enter the password again for the new connection options: *** stands for the "
                      "password stored for the old ones.")
    if new["password"] is not None and holds_mask(new["password"]):
        if old["password"] is None or mask_text(old["password"]) != new["password"]:
            return None, NO_STORED
        new["password"] = old["password"]
    old_query = dict(old["query"])
    for i, (k, v) in enumerate(new["query"]):
        if v is not None and holds_mask(v):
            if old_query.get(k) is None or mask_text(old_query[k]) != v:
                return None, f"?{k}= {NO_STORED}"
            new["query"][i] = (k, old_query[k])
    return _join(new), ""
