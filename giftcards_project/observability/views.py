"""GET /metrics: the Prometheus text format, for scrapers on allowed networks only.

Two guards, both applied: the request must come from METRICS_ALLOWED_NETWORKS (loopback by
default), else it is the 404 any unknown path gets, whatever its method; and when
METRICS_TOKEN is set it must carry `Authorization: Bearer <token>`, else 403. Every address a
request names counts: the peer's and each one in X-Forwarded-For, X-Real-IP and Forwarded, so
a proxy on this machine relaying an outside client does not make that client local.

A proxy on this machine that adds no forwarding header still makes every client look local,
so with DEBUG off and no METRICS_TOKEN, /metrics is a 404 unless METRICS_ALLOWED_NETWORKS was
set explicitly (the operator's opt-in to trusting networks alone). A peer without an address
(a unix socket bind: empty REMOTE_ADDR) is no network: it needs the token.
"""

from __future__ import annotations

import hmac
import ipaddress
import re
from functools import cache

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.http import HttpResponse, JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_safe
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from giftcards_project import errors
from giftcards_project.observability.metrics import scrape_registry

Network = ipaddress.IPv4Network | ipaddress.IPv6Network
_FORWARDED_FOR = re.compile(r'for="?\[?([^\]";,]+)', re.IGNORECASE)


@cache
def _networks(listed: tuple[str, ...]) -> tuple[Network, ...]:
    try:
        return tuple(ipaddress.ip_network(item, strict=False) for item in listed)
    except ValueError as exc:
        raise ImproperlyConfigured(f"METRICS_ALLOWED_NETWORKS: {exc}") from None


def _addresses(request) -> list[str]:
    """Every address the request names: the peer, then what proxies said about the client."""
    meta = request.META
    found = [meta.get("REMOTE_ADDR", "")]
    found += [hop.strip() for hop in meta.get("HTTP_X_FORWARDED_FOR", "").split(",")]
    found.append(meta.get("HTTP_X_REAL_IP", "").strip())
    found += _FORWARDED_FOR.findall(meta.get("HTTP_FORWARDED", ""))
    # The peer is always checked, even when empty; the headers only when present.
    return found[:1] + [item for item in found[1:] if item]


def _allowed(address: str, networks: tuple[Network, ...]) -> bool:
    host = address.strip()
    if host.count(":") == 1:  # IPv4 with a port (Forwarded: for="192.0.2.1:4711")
        host = host.split(":")[0]
    try:
        ip = ipaddress.ip_address(host)
    except ValueError:
        return False  # `unknown`, an obfuscated identifier, garbage: not a known network
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped:
        ip = ip.ipv4_mapped
    return any(ip in network for network in networks)


def from_allowed_network(request) -> bool:
    """Every address the request names is in an allowed network. An empty peer (unix socket)
    is let through only with the token (the addresses proxies named are still checked)."""
    networks = _networks(tuple(settings.METRICS_ALLOWED_NETWORKS))
    addresses = _addresses(request)
    if not addresses[0].strip():
        if not (settings.METRICS_TOKEN and has_token(request)):
            return False
        addresses = addresses[1:]
    return bool(networks) and all(_allowed(item, networks) for item in addresses)


def open_to_networks() -> bool:
    """Whether networks may be trusted at all: a token is set, DEBUG is on, or the operator
    named the networks explicitly."""
    return bool(settings.METRICS_TOKEN or settings.DEBUG or settings.METRICS_NETWORKS_EXPLICIT)


def has_token(request) -> bool:
    token = settings.METRICS_TOKEN
    if not token:
        return True
    scheme, _, given = request.META.get("HTTP_AUTHORIZATION", "").partition(" ")
    given = given.strip().encode()
    return scheme.lower() == "bearer" and hmac.compare_digest(given, token.encode())


@never_cache
def metrics(request):
    # Who may see it comes first: to anyone else it is an unknown path, for any method.
    if not (open_to_networks() and from_allowed_network(request)):
        return errors.not_found(request)
    return _metrics(request)


@require_safe
def _metrics(request):
    if not has_token(request):
        return JsonResponse({"detail": "Forbidden."}, status=403)
    return HttpResponse(generate_latest(scrape_registry()), content_type=CONTENT_TYPE_LATEST)
