"""What Sentry may see: the shape of an error, never a secret.

sentry-sdk already drops personal data (send_default_pii=False) and filters
keys it knows (password, token, ...). Sentinel holds more: datasource URLs
with passwords, webhook URLs whose path *is* the secret (Slack, Teams),
routing keys, and ${VAR} values expanded from the environment. Stack frames
carry local variables, so any of these can sit anywhere in an event. The
scrubber walks the whole event (exception frames, breadcrumbs, extra, request,
log messages) and:

- replaces the value of any key that names a secret or a URL;
- rewrites every URL in any string to `scheme://host/***`, keeping only
  where it pointed, not who logged in or what path carried a token (the one
  masking of alerts/secrets.py, which the admin, the API and export use too);
- replaces the literal values of secret-looking environment variables
  (anything named *PASSWORD*, *TOKEN*, *SECRET*, *KEY*, *DSN*, *URL*, ...)
  and every value a ${VAR} of a definition was expanded to.
"""

import os
import re

from alerts.secrets import expanded_values, mask_in_text

FILTERED = "[Filtered]"

_SECRET_KEY = re.compile(
    r"pass|secret|token|api_?key|auth|credential|dsn|cookie|session|signature|private|routing_?key|"
    r"integration_?key|webhook|(^|_)url$|^url|_uri$|^uri$|connection|conn_str",
    re.IGNORECASE,
)
# Keys Sentry itself needs intact (the request's own URL is rewritten below, not dropped).
_KEEP_KEYS = {"url", "filename", "abs_path", "module", "function", "package", "type", "category"}
_SECRET_ENV = re.compile(r"PASS|TOKEN|SECRET|KEY|DSN|URL|URI|WEBHOOK|CREDENTIAL|AUTH", re.IGNORECASE)


def _environment_secrets() -> list[str]:
    values = {v for k, v in os.environ.items() if _SECRET_ENV.search(k) and len(v) >= 6}
    values |= {v for v in expanded_values() if len(v) >= 3}
    return sorted(values, key=len, reverse=True)


def scrub_text(text: str, secrets: list[str] | None = None) -> str:
    for secret in _environment_secrets() if secrets is None else secrets:
        text = text.replace(secret, FILTERED)
    return mask_in_text(text)


def _scrub(value, secrets, key: str = ""):
    if key and key not in _KEEP_KEYS and _SECRET_KEY.search(key):
        return FILTERED if value not in (None, "", [], {}) else value
    if isinstance(value, str):
        return scrub_text(value, secrets)
    if isinstance(value, dict):
        return {k: _scrub(v, secrets, str(k)) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_scrub(v, secrets) for v in value]
    return value


def _scrub_request(request: dict, secrets) -> dict:
    """Keep the path of Sentinel's own request (it says which page failed); drop the query string."""
    url = request.get("url")
    request = _scrub({k: v for k, v in request.items() if k != "url"}, secrets)
    if isinstance(url, str):
        request["url"] = url.split("?", 1)[0]
    request.pop("query_string", None)
    request.pop("cookies", None)
    return request


def scrub_event(event: dict, hint=None) -> dict:
    secrets = _environment_secrets()
    request = event.get("request")
    event = {k: _scrub(v, secrets, k) for k, v in event.items() if k != "request"}
    if isinstance(request, dict):
        event["request"] = _scrub_request(request, secrets)
    return event


def scrub_breadcrumb(crumb: dict, hint=None) -> dict:
    return _scrub(crumb, _environment_secrets())
