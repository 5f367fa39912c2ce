"""Posting JSON to a URL someone typed into a channel, safely.

- http and https only; no redirects are followed (a 3xx is a permanent error);
- the address actually connected to is checked, after DNS and before a byte is
  sent: link-local and cloud metadata addresses (169.254.0.0/16, fe80::/10,
  fd00:ec2::254) are always refused, private and loopback ones too when
  SENTINEL_WEBHOOK_ALLOW_PRIVATE is false;
- proxies from the environment are not used (the check would see the proxy);
- at most RESPONSE_PEEK bytes of a response are read, and only a short,
  single-line excerpt of it ever reaches an error message.
"""

import ipaddress
import json
import re
import socket
from dataclasses import dataclass
from urllib.parse import urlsplit

import urllib3
from django.conf import settings
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool
from urllib3.exceptions import HTTPError as Urllib3Error

from .base import NotifierError

RESPONSE_PEEK = 4096
EXCERPT_CHARS = 200
METADATA_ADDRESSES = {ipaddress.ip_address("fd00:ec2::254")}
USER_AGENT = "Sentinel-Notifier/1"


class RefusedAddress(Exception):
    """The target resolved to an address Sentinel will not post to (permanent)."""


def refusal(address: str, allow_private: bool) -> str:
    """Why posting to this IP is refused, or "" when it is allowed."""
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    if ip.is_link_local or ip in METADATA_ADDRESSES:
        return f"{ip} is a link-local or cloud metadata address; Sentinel never posts there"
    if ip.is_unspecified or ip.is_multicast:
        return f"{ip} is not a host address"
    if not allow_private and (ip.is_private or ip.is_loopback or ip.is_reserved):
        return f"{ip} is a private or loopback address and SENTINEL_WEBHOOK_ALLOW_PRIVATE is false"
    return ""


class _CheckedConnection:
    def _new_conn(self) -> socket.socket:
        sock = super()._new_conn()
        peer = sock.getpeername()[0]
        reason = refusal(peer, settings.SENTINEL_WEBHOOK_ALLOW_PRIVATE)
        if reason:
            sock.close()
            raise RefusedAddress(f"Refused to connect to {self.host}: {reason}.")
        return sock


class CheckedHTTPConnection(_CheckedConnection, HTTPConnection):
    pass


class CheckedHTTPSConnection(_CheckedConnection, HTTPSConnection):
    pass


class CheckedHTTPConnectionPool(HTTPConnectionPool):
    ConnectionCls = CheckedHTTPConnection


class CheckedHTTPSConnectionPool(HTTPSConnectionPool):
    ConnectionCls = CheckedHTTPSConnection


def _pool_manager() -> urllib3.PoolManager:
    try:  # the same CA bundle as requests; the system's when certifi is absent
        import certifi

        ca = {"ca_certs": certifi.where()}
    except ImportError:
        ca = {}
    manager = urllib3.PoolManager(num_pools=20, maxsize=2, cert_reqs="CERT_REQUIRED", **ca)
    manager.pool_classes_by_scheme = {"http": CheckedHTTPConnectionPool, "https": CheckedHTTPSConnectionPool}
    return manager


_MANAGER = _pool_manager()


def url_problem(url: str) -> str:
    """What is wrong with a target URL before any connection is tried ("" if nothing)."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        return f"not a valid URL ({exc})"
    if parts.scheme not in ("http", "https"):
        return f"only http and https URLs are allowed, not {parts.scheme or 'a URL without a scheme'!r}"
    if not parts.hostname:
        return "the URL has no host"
    del port
    try:
        literal = ipaddress.ip_address(parts.hostname)
    except ValueError:
        return ""
    # Literal addresses are checked before connecting; names are checked once resolved.
    return refusal(str(literal), allow_private=True)


@dataclass(frozen=True)
class Response:
    status: int
    excerpt: str


def send_json(url: str, body: bytes, headers: dict[str, str], method: str = "POST",
              timeout: float | None = None) -> Response:
    """Send a JSON body; 2xx returns, anything else raises NotifierError (permanent or not)."""
    problem = url_problem(url)
    if problem:
        raise NotifierError(f"Refused target URL: {problem}.", permanent=True)
    timeout = settings.SENTINEL_DELIVERY_TIMEOUT if timeout is None else timeout
    all_headers = {"Content-Type": "application/json", "User-Agent": USER_AGENT, **headers}
    try:
        response = _MANAGER.request(
            method, url, body=body, headers=all_headers, redirect=False, retries=False,
            timeout=urllib3.Timeout(connect=min(timeout, 10), read=timeout), preload_content=False,
        )
    except RefusedAddress as exc:
        raise NotifierError(str(exc), permanent=True) from None
    except urllib3.exceptions.NewConnectionError as exc:  # a subclass of the timeout error, oddly
        raise NotifierError(f"Could not reach the endpoint: {_reason(exc)}") from None
    except urllib3.exceptions.TimeoutError as exc:
        raise NotifierError(f"Timed out after {timeout:g} s ({type(exc).__name__}).") from None
    except (Urllib3Error, OSError) as exc:
        raise NotifierError(f"Could not reach the endpoint: {_reason(exc)}") from None
    try:
        peek = response.read(RESPONSE_PEEK, decode_content=True) or b""
    except (Urllib3Error, OSError):
        peek = b""
    finally:
        # Never read the rest: a receiver could stream forever. The connection is not reused.
        response.close()
        response.release_conn()
    excerpt = " ".join(peek.decode("utf-8", "replace").split())[:EXCERPT_CHARS]
    status = response.status
    if 200 <= status < 300:
        return Response(status, excerpt)
    said = f": {excerpt}" if excerpt else ""
    if 300 <= status < 400:
        raise NotifierError(f"HTTP {status} redirect not followed (point the channel at the final URL)",
                            permanent=True, status_code=status)
    if status == 429 or status >= 500:
        raise NotifierError(f"HTTP {status}{said}", status_code=status)
    raise NotifierError(f"HTTP {status}{said}", permanent=True, status_code=status)


def _reason(exc: Exception) -> str:
    # urllib3 prefixes the connection object ("CheckedHTTPConnection(host=..., port=...): "); keep the cause.
    text = str(getattr(exc, "reason", None) or exc)
    return re.sub(r"^\w*Connection(Pool)?\([^)]*\): ", "", text)


def dumps(payload) -> bytes:
    """The exact bytes that are sent and signed: compact, stable key order, UTF-8."""
    return json.dumps(payload, separators=(",", ":"), sort_keys=True, default=str, ensure_ascii=False).encode()
