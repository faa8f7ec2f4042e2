"""The staff dashboard: a business's outstanding liability, its cards by status, what was
redeemed each day (an SVG bar chart drawn here, no script) and the cards about to expire."""

from __future__ import annotations

import math
from datetime import date

from django.contrib import admin
from django.contrib.admin.utils import quote
from django.core.exceptions import PermissionDenied
from django.http import Http404
from django.template.response import TemplateResponse
from django.urls import reverse

from clients.models import Business
from clients.tenancy import Mode
from giftcards import money, selectors
from giftcards.models import Status

CHART_WIDTH = 720
CHART_HEIGHT = 240
MARGIN = {"top": 16, "right": 12, "bottom": 32, "left": 84}


def _nice_ceiling(value: int) -> int:
    """The smallest 1, 2 or 5 x 10^n at or above `value` (at least 1), for the y axis."""
    if value <= 0:
        return 1
    power = 10 ** math.floor(math.log10(value))
    for step in (1, 2, 5, 10):
        if step * power >= value:
            return step * power
    return 10 * power


def bar_chart(currency_code: str, days: list[date], cents: list[int]) -> dict:
    """Geometry of a bar chart of `cents` per day, ready for the template to draw."""
    plot_width = CHART_WIDTH - MARGIN["left"] - MARGIN["right"]
    plot_height = CHART_HEIGHT - MARGIN["top"] - MARGIN["bottom"]
    top = _nice_ceiling(max(cents, default=0))
    slot = plot_width / len(days)
    bottom = MARGIN["top"] + plot_height
    bars = []
    for position, (day, value) in enumerate(zip(days, cents, strict=True)):
        height = plot_height * value / top
        bars.append(
            {
                "x": round(MARGIN["left"] + position * slot + slot * 0.15, 2),
                "y": round(bottom - height, 2),
                "width": round(slot * 0.7, 2),
                "height": round(height, 2),
                "label": f"{day.isoformat()}: {money.format_cents(value, currency_code)}",
                "day": day,
                "amount": money.format_cents(value, currency_code),
                "value": value,
            }
        )
    ticks = []
    for step in range(5):
        value = top * step // 4
        ticks.append(
            {
                "y": round(bottom - plot_height * step / 4, 2),
                "label": money.format_cents(value, currency_code),
            }
        )
    # A date under every fifth bar, counted back from today, so today is always labelled.
    x_labels = [
        {"x": round(bar["x"] + bar["width"] / 2, 2), "label": bar["day"].strftime("%b %d")}
        for position, bar in enumerate(bars)
        if (len(bars) - 1 - position) % 5 == 0
    ]
    return {
        "currency_code": currency_code,
        "width": CHART_WIDTH,
        "height": CHART_HEIGHT,
        "left": MARGIN["left"],
        "right": CHART_WIDTH - MARGIN["right"],
        "bottom": bottom,
        "label_y": bottom + 20,
        "bars": bars,
        "ticks": ticks,
        "x_labels": x_labels,
        "total": money.format_cents(sum(cents), currency_code),
    }


def _business_for(request) -> tuple[Business | None, list[Business]]:
    """Staff: their business. Superusers: the one they picked (the first by default)."""
    if not request.user.is_superuser:
        return request.user.business, []
    businesses = list(Business.objects.order_by("name", "id"))
    chosen = request.GET.get("business", "")
    if chosen:
        business = next((b for b in businesses if str(b.pk) == chosen), None)
        if business is None:
            raise Http404("No such business.")
        return business, businesses
    return (businesses[0] if businesses else None), businesses


def dashboard(request):
    if not request.user.has_perm("giftcards.view_giftcard"):
        raise PermissionDenied
    business, businesses = _business_for(request)
    mode = request.GET.get("mode", Mode.LIVE)
    if mode not in Mode.values:
        mode = Mode.LIVE
    context = {
        **admin.site.each_context(request),
        "title": f"Dashboard — {business.name}" if business else "Dashboard",
        "business": business,
        "businesses": businesses,
        "mode": mode,
        "modes": Mode.choices,
    }
    if business is not None:
        figures = selectors.dashboard_figures(business=business, mode=mode)
        changelist = reverse("admin:giftcards_giftcard_changelist")
        scope = f"business__id__exact={business.pk}&" if request.user.is_superuser else ""
        context.update(
            {
                "figures": figures,
                "liability": [
                    {
                        **row,
                        "formatted": money.format_cents(
                            row["balance_cents"], row["currency_code"], business.locale
                        ),
                    }
                    for row in figures.liability
                ],
                "by_status": [
                    {
                        "status": status,
                        "label": Status(status).label,
                        "cards": count,
                        "url": f"{changelist}?{scope}mode__exact={mode}&status__exact={status}"
                        "&deleted=no",
                    }
                    for status, count in figures.by_status
                ],
                "charts": [
                    bar_chart(currency, figures.days, values)
                    for currency, values in figures.redeemed_by_day.items()
                ],
                "expiring": [
                    {
                        "card": card,
                        "balance": money.format_cents(
                            card.balance_cents, card.currency_code, business.locale
                        ),
                        "url": reverse("admin:giftcards_giftcard_change", args=[quote(card.pk)]),
                    }
                    for card in figures.expiring
                ],
                "expiring_url": f"{changelist}?{scope}mode__exact={mode}&expiry=soon&deleted=no"
                "&status__in=" + ",".join(selectors.SOLD_STATUSES),
            }
        )
    return TemplateResponse(request, "admin/giftcards/dashboard.html", context)
