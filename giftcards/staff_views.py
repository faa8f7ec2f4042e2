"""The staff dashboard: a business's outstanding liability (now, and at the end of a chosen
day), its cards by status, what was redeemed each day (an SVG bar chart drawn here, no
script), the cards about to expire, and the reports' CSV downloads (giftcards/reports.py)."""

from __future__ import annotations

import csv
import itertools
import math
from datetime import date, timedelta

from django.contrib import admin, messages
from django.contrib.admin.utils import quote
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpResponseRedirect, StreamingHttpResponse
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils.http import urlencode

from clients.models import Business
from clients.tenancy import Mode
from giftcards import money, reports, selectors
from giftcards.admin import export
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


def _mode_of(request) -> str:
    mode = request.GET.get("mode", Mode.LIVE)
    return mode if mode in Mode.values else Mode.LIVE


def _liability_as_of(request, business: Business) -> dict:
    """The `?as_of=` day's liability for the dashboard, or why there is none."""
    today = reports.today(business)
    text = request.GET.get("as_of", "").strip() or today.isoformat()
    found = {"as_of_text": text, "as_of_max": today.isoformat()}
    try:
        day = reports.parse_day(text)
        rows = reports.liability_as_of(business=business, as_of=day)
    except reports.ReportError as exc:
        return {**found, "as_of_error": str(exc)}
    totals: dict[str, list[int]] = {}
    for row in rows:
        total = totals.setdefault(row.currency_code, [0, 0])
        total[0] += row.cards
        total[1] += row.balance_cents
    locale = business.locale
    return {
        **found,
        "as_of": day,
        "as_of_rows": [
            {
                "row": row,
                "formatted": money.format_cents(row.balance_cents, row.currency_code, locale),
            }
            for row in rows
        ],
        "as_of_totals": [
            {
                "currency_code": currency,
                "cards": cards,
                "formatted": money.format_cents(cents, currency, locale),
            }
            for currency, (cards, cents) in sorted(totals.items())
        ],
    }


def _report_defaults(business: Business) -> dict:
    today = reports.today(business)
    return {
        "expiry_from": today.isoformat(),
        "expiry_to": (today + timedelta(days=30)).isoformat(),
        "activity_from": (today - timedelta(days=29)).isoformat(),
        "activity_to": today.isoformat(),
    }


def dashboard(request):
    if not request.user.has_perm("giftcards.view_giftcard"):
        raise PermissionDenied
    business, businesses = _business_for(request)
    mode = _mode_of(request)
    context = {
        **admin.site.each_context(request),
        "title": f"Dashboard — {business.name}" if business else "Dashboard",
        "business": business,
        "businesses": businesses,
        "mode": mode,
        "modes": Mode.choices,
        "can_download": _can_download(request.user),
    }
    if business is not None:
        if mode == Mode.LIVE:  # test-mode cards are never owed, then or now
            context.update(_liability_as_of(request, business))
        context.update(_report_defaults(business))
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


# ---------------------------------------------------------------------------- downloads


def _csv_lines(rows, batch: int = 500):
    """CSV text in pieces of `batch` lines, as the card export streams it."""
    writer = csv.writer(export._Echo())
    lines = []
    for row in rows:
        lines.append(writer.writerow(row))
        if len(lines) >= batch:
            yield "".join(lines)
            lines = []
    if lines:
        yield "".join(lines)


def _can_download(user) -> bool:
    # A report lists what the card export does (masked codes, balances): the same right.
    return user.has_perm("giftcards.view_giftcard") and user.has_perm("giftcards.export_giftcard")


def _download(request, name: str, make_rows):
    """A report as a CSV download for the user's business (a superuser's pick), or back to
    the dashboard with the reason when its days are not right."""
    if not _can_download(request.user):
        raise PermissionDenied
    business, _businesses = _business_for(request)
    if business is None:
        raise Http404("No business to report on.")
    mode = _mode_of(request)
    try:
        first = reports.parse_day(request.GET.get("from", ""), name="first day")
        last = reports.parse_day(request.GET.get("to", ""), name="last day")
        rows = make_rows(business=business, mode=mode, first=first, last=last)
        # Checks the range now, while a message can still be shown instead of a file.
        header = next(rows)
    except reports.ReportError as exc:
        messages.error(request, f"No {name} report: {exc}")
        scope = {"business": business.pk} if request.user.is_superuser else {}
        return HttpResponseRedirect(
            f"{reverse('staff-dashboard')}?{urlencode({**scope, 'mode': mode})}"
        )
    response = StreamingHttpResponse(
        _csv_lines(itertools.chain([header], rows)), content_type="text/csv; charset=utf-8"
    )
    filename = f"{name}-{business.pk}-{mode}-{first.isoformat()}-{last.isoformat()}.csv"
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    response["Cache-Control"] = "no-store"
    return response


def expiry_report(request):
    """Cards expiring from `from` to `to` and expired cards still holding a balance."""
    return _download(request, "expiry", reports.expiry_csv)


def activity_report(request):
    """Sales, redemptions and refunds per day from `from` to `to`."""
    return _download(request, "activity", reports.activity_csv)
