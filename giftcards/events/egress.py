"""Calls to webhook receivers, and only to receivers on the public internet.

A callback URL is `https` to a name or address that resolves only to public addresses: not
private, loopback, link-local (cloud metadata at 169.254.169.254), shared, reserved or
multicast, also when wrapped in IPv6 (mapped, NAT64, 6to4), and IPv6 only in global unicast
(2000::/3). It is checked when a webhook is saved and again at each call, after resolving
the name, and the call connects to the very address that was checked (a name that resolves
elsewhere a moment later, DNS rebinding, changes nothing). `WEBHOOK_ALLOW_LOOPBACK_HTTP`
admits receivers on this machine (http or https to a loopback address) for development and
tests.

A call has a deadline for everything (resolving, connecting, sending, reading), enforced by
closing the socket from a timer, so a receiver that trickles bytes cannot hold a worker. It
follows no redirect and reads at most `MAX_RESPONSE_BYTES` of the answer.
"""

from __future__ import annotations

import contextlib
import functools
import http.client
import ipaddress
import socket
import ssl
import threading
import time
from dataclasses import dataclass
from urllib.parse import urlsplit

from django.conf import settings

MAX_URL_LENGTH = 2000
MAX_RESPONSE_BYTES = 64 * 1024
# The well-known NAT64 prefix (RFC 6052): the IPv4 address is the last 32 bits. The
# local-use one (64:ff9b:1::/48, RFC 8215) is not unwrapped: its prefix may be as short as
# /48, which puts the IPv4 address elsewhere, so it is simply not public.
NAT64 = ipaddress.ip_network("64:ff9b::/96")
# The only IPv6 space allocated for global unicast: anything else (IPv4-compatible ::a.b.c.d
# and IPv4-translated ::ffff:0:a.b.c.d forms, site-local fec0::/10, unassigned space) is not
# a public address, whatever Python's `is_global` says of it.
GLOBAL_UNICAST = ipaddress.ip_network("2000::/3")
# Cloud services for the machine itself at public addresses (most are link-local or private):
# Azure's WireServer and DNS, which every Azure VM reaches and nothing outside does.
HOST_SERVICES = frozenset({ipaddress.ip_address("168.63.129.16")})


class Refused(Exception):
    """The URL may not be called (its form, or where it leads)."""


@dataclass(frozen=True)
class Target:
    """A checked callback URL: where to connect (`addresses`, all allowed) and what to ask."""

    scheme: str
    host: str  # as written (for the Host header and the certificate)
    port: int
    path: str  # path and query
    addresses: tuple[str, ...]


@dataclass(frozen=True)
class Answer:
    """What a call got: a status and the start of the body, or no response and why."""

    status: int | None
    body: bytes = b""
    reason: str = ""
    error: str = ""
    duration_ms: int = 0

    @property
    def ok(self) -> bool:
        return self.status is not None and 200 <= self.status < 300


# ---------------------------------------------------------------------------- addresses


def _embedded_ipv4(ip: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    if ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    if ip.sixtofour is not None:
        return ip.sixtofour
    if ip in NAT64:
        return ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    return None


def _loopback_allowed() -> bool:
    return bool(getattr(settings, "WEBHOOK_ALLOW_LOOPBACK_HTTP", False))


def address_problem(address: str) -> str | None:
    """Why a call may not go to `address`, or None when it may."""
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address):
        inner = _embedded_ipv4(ip)
        if inner is not None:
            ip = inner
    if ip.is_loopback:
        return None if _loopback_allowed() else f"{address} is a loopback address"
    if ip in HOST_SERVICES:
        return f"{address} is a cloud provider's service for the machine itself"
    if ip.is_multicast:
        return f"{address} is a multicast address"
    if ip.is_link_local:
        return f"{address} is a link-local address (cloud metadata services live there)"
    if ip.is_private:
        return f"{address} is a private address"
    if not ip.is_global or (isinstance(ip, ipaddress.IPv6Address) and ip not in GLOBAL_UNICAST):
        return f"{address} is not a public address"
    return None


def resolve(host: str, port: int) -> tuple[str, ...]:
    """The addresses `host` resolves to (through the system resolver, within the DNS
    timeout). Raises Refused when it does not resolve.

    Each lookup runs in a thread of its own, left behind when it takes too long (it ends when
    the system resolver gives up): a shared pool would fill with the lookups of names whose
    name servers never answer, and then every other webhook's name would time out queued
    behind them."""
    outcome: dict[str, object] = {}
    done = threading.Event()

    def lookup():
        try:
            outcome["found"] = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        except Exception as exc:  # handed to the caller
            outcome["error"] = exc
        finally:
            done.set()

    threading.Thread(target=lookup, name="webhook-dns", daemon=True).start()
    if not done.wait(settings.WEBHOOK_DNS_TIMEOUT):
        raise Refused(f"{host} did not resolve within {settings.WEBHOOK_DNS_TIMEOUT:g} s")
    error = outcome.get("error")
    if isinstance(error, OSError | UnicodeError):
        raise Refused(f"{host} does not resolve ({error})")
    if error is not None:
        raise error
    found = outcome["found"]
    addresses = tuple(dict.fromkeys(info[4][0] for info in found))
    if not addresses:
        raise Refused(f"{host} does not resolve")
    return addresses


# ---------------------------------------------------------------------------- URLs


def parse(url: str) -> tuple[str, str, int, str]:
    """(scheme, host, port, path) of a callback URL, or Refused saying what is wrong."""
    if not isinstance(url, str) or not url:
        raise Refused("A callback URL is required.")
    if len(url) > MAX_URL_LENGTH:
        raise Refused(f"A callback URL has at most {MAX_URL_LENGTH} characters.")
    if any(ord(char) < 33 or ord(char) == 127 for char in url):
        raise Refused("A callback URL has no spaces or control characters.")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise Refused(f"Not a URL: {exc}.") from None
    scheme = parts.scheme.lower()
    if scheme not in ("https", "http"):
        raise Refused("A callback URL starts with https://.")
    if parts.username is not None or parts.password is not None:
        raise Refused("A callback URL carries no user name or password.")
    host = parts.hostname
    if not host:
        raise Refused("A callback URL names a host.")
    try:
        host.encode("idna")
    except UnicodeError:
        raise Refused(f"{host!r} is not a valid host name.") from None
    if parts.fragment:
        raise Refused("A callback URL has no #fragment.")
    path = parts.path or "/"
    if parts.query:
        path = f"{path}?{parts.query}"
    return scheme, host, port or (443 if scheme == "https" else 80), path


def check(url: str) -> Target:
    """The URL, checked and resolved: every address it resolves to must be allowed, and
    `http` only to loopback addresses when WEBHOOK_ALLOW_LOOPBACK_HTTP is on. Raises
    Refused."""
    scheme, host, port, path = parse(url)
    if scheme == "http" and not _loopback_allowed():
        raise Refused("A callback URL starts with https://.")  # nothing to resolve for that
    try:
        literal = ipaddress.ip_address(host)
    except ValueError:
        literal = None
    addresses = (str(literal),) if literal is not None else resolve(host, port)
    for address in addresses:
        problem = address_problem(address)
        if problem:
            raise Refused(f"{host} resolves to {problem}; callbacks go to public addresses.")
    if scheme == "http":
        loopback = all(
            ipaddress.ip_address(address.split("%", 1)[0]).is_loopback for address in addresses
        )
        if not (loopback and _loopback_allowed()):
            raise Refused("A callback URL starts with https://.")
    return Target(scheme=scheme, host=host, port=port, path=path, addresses=addresses)


# ---------------------------------------------------------------------------- calling


@functools.cache
def _tls() -> ssl.SSLContext:
    """The system's trusted certificates, loaded once (a context is safe to share)."""
    return ssl.create_default_context()


class _Connection(http.client.HTTPConnection):
    """HTTP, or HTTPS verifying the certificate for the URL's host name, to the checked
    addresses in turn until one answers (a name with an IPv6 address first on a machine
    without IPv6 still works). Each connect waits at most the connect timeout; every later
    read or write at most what is left until the deadline.

    `cut_off` (the deadline's timer) shuts the socket down from another thread, whatever the
    connection is doing: a socket is registered as soon as it exists (before the TLS
    handshake), and one that would be registered after the cut is closed instead, so a
    deadline passing while the connection is being made still ends the call."""

    def __init__(self, target: Target, deadline: float):
        timeout = min(settings.WEBHOOK_CONNECT_TIMEOUT, settings.WEBHOOK_TIMEOUT)
        super().__init__(target.addresses[0], target.port, timeout=timeout)
        self.target = target
        self.deadline = deadline
        self.cut = threading.Event()
        self._guard = threading.Lock()

    def cut_off(self) -> None:
        with self._guard:
            self.cut.set()
            sock = self.sock
            if sock is not None:
                with contextlib.suppress(OSError):
                    # socket.socket's own shutdown: SSLSocket's would drop its SSL object
                    # under a thread still using it.
                    socket.socket.shutdown(sock, socket.SHUT_RDWR)

    def _register(self, sock: socket.socket) -> None:
        with self._guard:
            if self.cut.is_set():
                sock.close()
                raise TimeoutError
            self.sock = sock

    def connect(self):
        sock, failure = None, None
        for address in self.target.addresses:
            left = self.deadline - time.monotonic()
            if left <= 0:
                break
            try:
                sock = socket.create_connection((address, self.port), min(self.timeout, left))
                break
            except OSError as exc:
                failure = exc
        if sock is None:
            raise failure or TimeoutError()
        sock.settimeout(max(0.01, self.deadline - time.monotonic()))
        self._register(sock)
        if self.target.scheme == "https":
            sock = _tls().wrap_socket(
                sock, server_hostname=self.target.host, do_handshake_on_connect=False
            )
            self._register(sock)
            sock.do_handshake()


def post(url: str, body: bytes, headers: dict[str, str]) -> Answer:
    """POST `body` to `url` if it may be called; never raises for the receiver's faults."""
    started = time.monotonic()
    deadline = started + settings.WEBHOOK_TIMEOUT

    def elapsed_ms() -> int:
        return int((time.monotonic() - started) * 1000)

    try:
        target = check(url)
    except Refused as exc:
        return Answer(status=None, error=f"Refused: {exc}", duration_ms=elapsed_ms())
    host_header = target.host if ":" not in target.host else f"[{target.host}]"
    if target.port not in (80, 443):
        host_header = f"{host_header}:{target.port}"
    connection = _Connection(target, deadline)
    cut = connection.cut
    watchdog = threading.Timer(max(0.0, deadline - time.monotonic()), connection.cut_off)
    watchdog.daemon = True
    watchdog.start()
    try:
        connection.putrequest("POST", target.path, skip_host=True, skip_accept_encoding=True)
        connection.putheader("Host", host_header)
        for name, value in headers.items():
            connection.putheader(name, value)
        connection.putheader("Content-Length", str(len(body)))
        connection.endheaders(body)
        response = connection.getresponse()
        received = bytearray()
        while len(received) < MAX_RESPONSE_BYTES:
            chunk = response.read1(MAX_RESPONSE_BYTES - len(received))
            if not chunk:
                break
            received += chunk
        if cut.is_set():
            raise TimeoutError
        return Answer(
            status=response.status,
            body=bytes(received),
            reason=response.reason or "",
            duration_ms=elapsed_ms(),
        )
    except TimeoutError:
        return Answer(
            status=None,
            error=f"No complete answer within {settings.WEBHOOK_TIMEOUT:g} s.",
            duration_ms=elapsed_ms(),
        )
    except (OSError, http.client.HTTPException, ValueError) as exc:
        if cut.is_set():
            message = f"No complete answer within {settings.WEBHOOK_TIMEOUT:g} s."
        else:
            message = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
        return Answer(status=None, error=message, duration_ms=elapsed_ms())
    finally:
        watchdog.cancel()
        connection.close()
