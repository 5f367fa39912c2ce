"""Posting JSON to a URL someone typed into a channel, safely (docs/security.md §7).

- http and https only; no redirects are followed (a 3xx is a permanent error);
- only public addresses: loopback, private, link-local, carrier-grade NAT, multicast,
  reserved and unspecified ones are refused unless SENTINEL_OUTBOUND_ALLOW names their
  network or the URL's host; cloud metadata addresses only when named there exactly;
- the host is resolved once, every address it resolves to is checked, and the socket
  is opened to a checked address (TLS still verifies the name): no second DNS answer
  can slip another address in between the check and the connect;
- proxies from the environment are not used (the check would see the proxy);
- at most RESPONSE_PEEK bytes of a response are read, and only a short,
  single-line excerpt of it ever reaches a delivery error (never a test send's report).
"""

import ipaddress
import json
import re
import socket
from dataclasses import dataclass
from functools import lru_cache
from urllib.parse import urlsplit

import urllib3
from django.conf import settings
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool
from urllib3.exceptions import ConnectTimeoutError, NameResolutionError, NewConnectionError
from urllib3.exceptions import HTTPError as Urllib3Error
from urllib3.util.connection import create_connection

from .base import NotifierError, Sent

RESPONSE_PEEK = 4096
EXCERPT_CHARS = 200
USER_AGENT = "Sentinel-Notifier/1"
# Cloud instance metadata services (AWS, ECS, EKS, GCP, Azure, Alibaba, Oracle): they hand out
# credentials to whoever asks from the machine, so only an exact SENTINEL_OUTBOUND_ALLOW entry opens them.
METADATA_ADDRESSES = frozenset(ipaddress.ip_address(a) for a in (
    "169.254.169.254", "169.254.170.2", "169.254.170.23", "100.100.100.200", "192.0.0.192",
    "fd00:ec2::254", "fd00:ec2::23",
))
METADATA_NAMES = frozenset({"metadata.google.internal", "metadata.goog", "metadata", "instance-data",
                            "instance-data.ec2.internal", "metadata.azure.internal"})
SHARED_ADDRESS_SPACE = ipaddress.ip_network("100.64.0.0/10")  # carrier-grade NAT, RFC 6598
NAT64 = ipaddress.ip_network("64:ff9b::/96")
ALLOW_SETTING = "SENTINEL_OUTBOUND_ALLOW"


class Refused(NotifierError):
    """The destination is one Sentinel will not connect to; nothing was sent (permanent)."""

    def __init__(self, reason: str):
        super().__init__(f"Refused: {reason}.", permanent=True)
        self.reason = reason

    @property
    def brief(self) -> str:
        return f"refused: {self.reason}"


class Unanswered(NotifierError):
    """No HTTP answer (could not resolve, connect or read); `brief` says which, and nothing the far end said."""

    def __init__(self, message: str, brief: str, *, permanent: bool = False):
        super().__init__(message, permanent=permanent)
        self.brief = brief


class Answered(NotifierError):
    """An HTTP answer that is not 2xx; `brief` is the status alone."""

    def __init__(self, message: str, status: int, *, permanent: bool):
        super().__init__(message, permanent=permanent, status_code=status)
        self.brief = f"HTTP {status}"


# --- which destinations are allowed ---

@dataclass(frozen=True)
class Allowed:
    networks: tuple  # ip_network, any size
    names: frozenset  # host names, lower case, no trailing dot


@lru_cache(maxsize=8)
def _parse_allowed(entries: tuple) -> Allowed:
    networks, names = [], set()
    for entry in entries:
        try:
            networks.append(ipaddress.ip_network(entry.strip("[]"), strict=False))
        except ValueError:
            names.add(_host_key(entry))
    return Allowed(tuple(networks), frozenset(names))


def allowed() -> Allowed:
    return _parse_allowed(tuple(getattr(settings, ALLOW_SETTING, ())))


def _host_key(host: str) -> str:
    return host.strip().strip("[]").rstrip(".").lower()


def literal_address(host: str):
    """The IP a host written as a number stands for, in every spelling the C library accepts
    (decimal 2130706433, octal 0177.0.0.1, hex 0x7f.1, short 127.1, IPv6 with or without
    brackets); None for a name."""
    host = _host_key(host)
    try:
        return ipaddress.ip_address(host.split("%", 1)[0])
    except ValueError:
        pass
    if re.fullmatch(r"[0-9a-fx.]+", host):
        try:
            return ipaddress.IPv4Address(socket.inet_aton(host))
        except OSError:
            return None
    return None


def _judged_as(ip) -> list:
    """The addresses that decide for `ip`, most telling first. An IPv4-mapped or NAT64 address
    reaches the IPv4 one it carries, so that one alone decides; 6to4 and Teredo both must pass."""
    if not isinstance(ip, ipaddress.IPv6Address):
        return [ip]
    if ip.ipv4_mapped is not None:
        return [ip.ipv4_mapped]
    if ip in NAT64:
        return [ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)]
    if ip.sixtofour is not None:
        return [ip.sixtofour, ip]
    if ip.teredo is not None:
        return [ip.teredo[1], ip]
    return [ip]


def _not_public(ip) -> str:
    if ip.is_unspecified:
        return "an unspecified address"
    if ip.is_loopback:
        return "a loopback address"
    if ip.is_link_local:
        return "a link-local address"
    if ip.is_multicast:
        return "a multicast address"
    if ip in SHARED_ADDRESS_SPACE:
        return "a carrier-grade NAT address"
    if isinstance(ip, ipaddress.IPv6Address) and ip.is_site_local:
        return "a site-local address"
    if ip.is_reserved:
        return "a reserved address"
    if ip.is_private:
        return "a private address"
    if not ip.is_global:
        return "not a public address"
    return ""


def refusal(host: str, address) -> str:
    """Why connecting to `address` for the URL host `host` is refused, or "" when it is allowed."""
    ip = ipaddress.ip_address(str(address).split("%", 1)[0])
    candidates = _judged_as(ip)
    rules = allowed()
    name = _host_key(host)
    if name in METADATA_NAMES or any(c in METADATA_ADDRESSES for c in [ip, *candidates]):
        # Only an entry naming this very host or address opens a metadata service; a network never does.
        exact = {ipaddress.ip_network(c) for c in [ip, *candidates]}
        if name in rules.names or exact & set(rules.networks):
            return ""
        kind = "a cloud metadata service" if name in METADATA_NAMES else "a cloud metadata address"
        return _phrase(host, ip, ip, kind, "name it exactly")
    if name in rules.names or any(c.version == n.version and c in n for c in [ip, *candidates] for n in rules.networks):
        return ""
    for c in candidates:
        kind = _not_public(c)
        if kind:
            return _phrase(host, ip, c, kind, "allow it")
    return ""


def _phrase(host: str, ip, inner, kind: str, how: str) -> str:
    shown = f"{ip} ({inner})" if inner != ip else str(ip)
    if _host_key(host) in METADATA_NAMES:
        said = f"{_host_key(host)} is {kind}"
    elif literal_address(host) is None:
        said = f"{host} resolves to {shown}, {kind}"
    else:
        said = f"{shown} is {kind}"
    return f"{said}; {how} in {ALLOW_SETTING} if Sentinel should post there"


def host_refusal(host: str) -> str:
    """The refusal a host earns before any lookup: a metadata name, or a literal address."""
    if _host_key(host) in METADATA_NAMES:
        return refusal(host, "169.254.169.254")
    literal = literal_address(host)
    return refusal(host, literal) if literal is not None else ""


# --- connections to checked addresses only ---

class _PinnedConnection:
    """Resolve once, check every address, open the socket to a checked one.

    urllib3 would resolve the name again inside create_connection; here it is handed
    the checked IP, while Host, SNI and certificate checks keep using self.host."""

    def _new_conn(self) -> socket.socket:
        try:
            infos = socket.getaddrinfo(self._dns_host, self.port, type=socket.SOCK_STREAM)
        except socket.gaierror as exc:
            raise NameResolutionError(self.host, self, exc) from exc
        addresses = list(dict.fromkeys(info[4][0] for info in infos))
        for address in addresses:
            reason = refusal(self.host, address)
            if reason:
                raise Refused(reason)
        error: Exception | None = None
        for address in addresses:
            try:
                return create_connection((address, self.port), self.timeout, source_address=self.source_address,
                                         socket_options=self.socket_options)
            except socket.timeout as exc:
                error = ConnectTimeoutError(self, f"Connection to {self.host} timed out.")
                error.__cause__ = exc
            except OSError as exc:
                error = NewConnectionError(self, f"Failed to establish a new connection: {exc}")
        raise error or NewConnectionError(self, "the host name resolved to no address")


class CheckedHTTPConnection(_PinnedConnection, HTTPConnection):
    pass


class CheckedHTTPSConnection(_PinnedConnection, HTTPSConnection):
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
    """What is wrong with a target URL before any connection is tried ("" if nothing).

    Names are checked again, on every address they resolve to, when a message is sent."""
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError for a port that is not a number
    except ValueError as exc:
        return f"not a valid URL ({exc})"
    if parts.scheme not in ("http", "https"):
        return f"only http and https URLs are allowed, not {parts.scheme or 'a URL without a scheme'!r}"
    if not parts.hostname:
        return "the URL has no host"
    reason = host_refusal(parts.hostname)
    return f"refused: {reason}" if reason else ""


@dataclass(frozen=True)
class Response:
    status: int
    excerpt: str


def send_json(url: str, body: bytes, headers: dict[str, str], method: str = "POST",
              timeout: float | None = None) -> Response:
    """Send a JSON body; 2xx returns, anything else raises NotifierError (permanent or not).

    Every error has a `brief`: what a test send may show (status, or why nothing answered)."""
    try:
        host = urlsplit(url).hostname or ""
    except ValueError:
        host = ""
    problem = url_problem(url)
    if problem:
        reason = host_refusal(host) if host else ""
        if reason:
            raise Refused(reason)
        raise Unanswered(f"Refused target URL: {problem}.", problem, permanent=True) from None
    timeout = settings.SENTINEL_DELIVERY_TIMEOUT if timeout is None else timeout
    all_headers = {"Content-Type": "application/json", "User-Agent": USER_AGENT, **headers}
    try:
        response = _MANAGER.request(
            method, url, body=body, headers=all_headers, redirect=False, retries=False,
            timeout=urllib3.Timeout(connect=min(timeout, 10), read=timeout), preload_content=False,
        )
    except Refused:
        raise
    except NameResolutionError:
        raise Unanswered(f"Could not resolve the host name {host}.", "could not resolve the host name") from None
    except urllib3.exceptions.NewConnectionError as exc:  # a subclass of the timeout error, oddly
        raise Unanswered(f"Could not reach the endpoint: {_reason(exc)}", "no HTTP answer") from None
    except urllib3.exceptions.TimeoutError as exc:
        raise Unanswered(f"Timed out after {timeout:g} s ({type(exc).__name__}).", "no HTTP answer") from None
    except (Urllib3Error, OSError) as exc:
        raise Unanswered(f"Could not reach the endpoint: {_reason(exc)}", "no HTTP answer") from None
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
        raise Answered(f"HTTP {status} redirect not followed (point the channel at the final URL)",
                       status, permanent=True)
    if status == 429 or status >= 500:
        raise Answered(f"HTTP {status}{said}", status, permanent=False)
    raise Answered(f"HTTP {status}{said}", status, permanent=True)


def delivered(response: Response) -> Sent:
    """A 2xx answer as a notifier reports it: the status, and nothing the far end said (docs/security.md §7)."""
    return Sent(response.status, f"HTTP {response.status}")


def _reason(exc: Exception) -> str:
    # urllib3 prefixes the connection object ("CheckedHTTPConnection(host=..., port=...): "); keep the cause.
    text = str(getattr(exc, "reason", None) or exc)
    return re.sub(r"^\w*Connection(Pool)?\([^)]*\): ", "", text)


def dumps(payload) -> bytes:
    """The exact bytes that are sent and signed: compact, stable key order, UTF-8."""
    return json.dumps(payload, separators=(",", ":"), sort_keys=True, default=str, ensure_ascii=False).encode()
