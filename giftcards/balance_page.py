"""The public balance check at /balance: a customer types a code and sees the masked code,
the balance, the status and the expiry of a live card.

Which business: codes are unique per business, not globally. `/balance` looks the code up
among every business's live cards; a business can link its customers to
`/balance?business=<id>`, which looks only among its own. A code that matches no card, a
deleted or test-mode card, or cards of two businesses gets the same generic message.

Guessing is throttled per client address (an IPv6 address counts per /64) in the shared
counter of `giftcards.ratelimit` (Redis when REDIS_URL is set, so all server processes share
the count): BALANCE_CHECK_ATTEMPTS lookups per BALANCE_CHECK_WINDOW seconds (10 per 600 by
default). When the cache is down the page fails closed: a 503 with Retry-After, no lookup.
Behind a proxy set BALANCE_CHECK_TRUSTED_PROXIES to the number of proxies that append to
X-Forwarded-For; otherwise every customer would share the proxy's address.
"""

from __future__ import annotations

import ipaddress
import time

from django import forms
from django.conf import settings
from django.http import Http404
from django.shortcuts import render
from django.views.decorators.http import require_http_methods

from clients.models import Business
from giftcards import money, outages, ratelimit, selectors
from giftcards.models import GiftCard, Status

NOT_FOUND = "We could not find a gift card with that code. Check the code and try again."
CUSTOMER_STATUS = {
    Status.DRAFT: "Not activated yet",
    # Not yet activated or deactivated by the business: the customer learns only that it is
    # not active now.
    Status.INACTIVE: "Not active",
    Status.ACTIVE: "Active",
    Status.REDEEMED: "Fully used",
}


def now() -> float:
    """The throttle's clock (tests move it)."""
    return time.time()


def _limit() -> tuple[int, int]:
    return settings.BALANCE_CHECK_ATTEMPTS, settings.BALANCE_CHECK_WINDOW


def client_address(request) -> str:
    trusted = settings.BALANCE_CHECK_TRUSTED_PROXIES
    address = request.META.get("REMOTE_ADDR", "")
    if trusted:
        hops = [hop.strip() for hop in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",")]
        hops = [hop for hop in hops if hop]
        if len(hops) >= trusted:
            address = hops[-trusted]  # what the outermost trusted proxy saw
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return address or "unknown"
    if ip.version == 6:
        if ip.ipv4_mapped:
            return str(ip.ipv4_mapped)
        # One customer usually holds a whole /64.
        return str(ipaddress.ip_network(f"{ip}/64", strict=False))
    return str(ip)


def throttle_hit(address: str) -> ratelimit.Verdict:
    """Count one lookup from `address` in the current window; refuse it past the limit.
    Raises CacheUnavailable."""
    limit, window = _limit()
    return ratelimit.hit("balance-check", address, limit=limit, window=window, now=now())


def _throttle(request, context: dict) -> int:
    """200 when this lookup may go ahead, else 429 (over the limit) or 503 (the cache is down:
    fail closed, since without a count guessing would be unlimited), with the page's context."""
    try:
        verdict = throttle_hit(client_address(request))
    except outages.CacheUnavailable as exc:
        outages.log(outages.CACHE, exc, request)
        context["unavailable"] = True
        context["retry_after"] = outages.RETRY_AFTER
        return 503
    if verdict.allowed:
        return 200
    context["throttled_minutes"] = max(1, -(-verdict.retry_after // 60))
    context["retry_after"] = verdict.retry_after
    return 429


class BalanceForm(forms.Form):
    code = forms.CharField(
        label="Gift card code",
        max_length=64,
        help_text="Spaces, dashes and upper or lower case do not matter.",
        widget=forms.TextInput(
            attrs={
                "autocomplete": "off",
                "autocapitalize": "characters",
                "spellcheck": "false",
                "autofocus": True,
            }
        ),
    )


def _present(card: GiftCard) -> dict:
    business = card.business
    expired = card.is_expired()
    return {
        "business": business.name,
        "masked_code": card.masked_code,
        "balance": money.format_cents(card.balance_cents, card.currency_code, business.locale),
        "status": "Expired" if expired else CUSTOMER_STATUS.get(card.status, card.status),
        "usable": card.status == Status.ACTIVE and not expired,
        "expires_on": card.expires_at.astimezone(business.tzinfo).date()
        if card.expires_at
        else None,
        "expired": expired,
    }


@require_http_methods(["GET", "POST"])
def balance_check(request):
    business = None
    business_id = request.GET.get("business", "")
    if business_id:
        # ASCII digits, few enough for a 64-bit id: isdigit() alone also takes "²" (which
        # int() refuses) and other scripts' digits (which it reads).
        if not (business_id.isascii() and business_id.isdigit()) or len(business_id) > 18:
            raise Http404("No such business.")
        business = Business.objects.filter(pk=int(business_id)).first()
        if business is None:
            raise Http404("No such business.")

    form = BalanceForm(request.POST or None)
    context = {"form": form, "business": business}
    status = 200
    if request.method == "POST" and form.is_valid():
        status = _throttle(request, context)
        if status == 200:
            cards = selectors.cards_matching_code(
                code=form.cleaned_data["code"], business_id=business.pk if business else None
            )
            if len(cards) == 1:
                context["card"] = _present(cards[0])
                context["form"] = BalanceForm()  # do not echo the full code back
            else:
                context["not_found"] = NOT_FOUND
    response = render(request, "balance/check.html", context, status=status)
    response["Cache-Control"] = "no-store"
    if status in (429, 503):
        response["Retry-After"] = str(context["retry_after"])
    return outages.mark_logged(response) if status == 503 else response
