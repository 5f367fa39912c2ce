"""EMAIL_URL -> Django e-mail settings, the way SQL Sentinel users already write it.

    smtp://user:password@host:25          plain SMTP
    smtp+tls://user:password@host:587     STARTTLS (also submission://)
    smtps://user:password@host:465        SMTP over TLS
    console://                            print messages (development)
    ?from=alerts@example.com&timeout=20   optional query parameters

User and password are percent-decoded ("%40" for "@")."""

from urllib.parse import parse_qs, unquote, urlsplit

from django.core.exceptions import ImproperlyConfigured

BACKENDS = {
    "smtp": "django.core.mail.backends.smtp.EmailBackend",
    "smtp+tls": "django.core.mail.backends.smtp.EmailBackend",
    "submission": "django.core.mail.backends.smtp.EmailBackend",
    "smtps": "django.core.mail.backends.smtp.EmailBackend",
    "console": "django.core.mail.backends.console.EmailBackend",
    "locmem": "django.core.mail.backends.locmem.EmailBackend",
}
DEFAULT_PORTS = {"smtp": 25, "smtp+tls": 587, "submission": 587, "smtps": 465}


def parse_email_url(url: str) -> dict:
    """The settings an EMAIL_URL stands for (keys are Django setting names)."""
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    if scheme not in BACKENDS:
        raise ImproperlyConfigured(
            f"EMAIL_URL scheme {scheme!r} is not supported; use one of {', '.join(sorted(BACKENDS))}."
        )
    query = {k: v[-1] for k, v in parse_qs(parts.query).items()}
    try:
        port = parts.port
    except ValueError:
        raise ImproperlyConfigured("EMAIL_URL has a port that is not a number.") from None
    result = {"EMAIL_BACKEND": BACKENDS[scheme]}
    if scheme in DEFAULT_PORTS:
        result.update(
            EMAIL_HOST=parts.hostname or "localhost",
            EMAIL_PORT=port or DEFAULT_PORTS[scheme],
            EMAIL_HOST_USER=unquote(parts.username or ""),
            EMAIL_HOST_PASSWORD=unquote(parts.password or ""),
            EMAIL_USE_TLS=scheme in ("smtp+tls", "submission"),
            EMAIL_USE_SSL=scheme == "smtps",
        )
    if "from" in query:
        result["DEFAULT_FROM_EMAIL"] = query["from"]
    if "timeout" in query:
        try:
            result["EMAIL_TIMEOUT"] = int(query["timeout"])
        except ValueError:
            raise ImproperlyConfigured("EMAIL_URL timeout must be a whole number of seconds.") from None
    return result
