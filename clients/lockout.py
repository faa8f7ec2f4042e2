"""Staff login lockout (django-axes): which address a login comes from, and the page a locked
login gets.

The address is the one the /balance throttle counts (the proxies in
BALANCE_CHECK_TRUSTED_PROXIES are trusted), and an IPv6 client counts per /64 network, so a
client cannot leave the lock by changing the low half of its address.
"""

from __future__ import annotations

import ipaddress
import math

from axes.helpers import get_client_username, get_cool_off, get_failure_limit
from django.shortcuts import render

from giftcards.balance_page import client_address as counted_address


def client_address(request) -> str | None:
    """An IP address for the attempt's row: the /64 network's first address for IPv6."""
    address = counted_address(request).split("/")[0]
    try:
        return str(ipaddress.ip_address(address))
    except ValueError:
        return None


def locked_out(request, original_response=None, credentials=None):
    """429 with the admin's look and a Retry-After that says when the lock lifts."""
    cool_off = get_cool_off(request)
    minutes = math.ceil(cool_off.total_seconds() / 60) if cool_off else None
    context = {
        "failure_limit": get_failure_limit(request, credentials),
        "username": get_client_username(request, credentials) or "",
        "minutes": minutes,
    }
    response = render(request, "admin/locked_out.html", context, status=429)
    if cool_off:
        response["Retry-After"] = str(int(cool_off.total_seconds()))
    return response
