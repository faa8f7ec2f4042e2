"""Reads shared by the APIs, the admin and the commands."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from django.db.models import Count, F, Q, QuerySet, Sum
from django.db.models.functions import TruncDate
from django.utils import timezone

from clients.models import Business
from clients.tenancy import Mode, Tenant
from giftcards import codes
from giftcards.models import BalanceLog, GiftCard, Status


def card_get_by_code(*, tenant: Tenant, code: str) -> GiftCard | None:
    """Codes match case-insensitively, ignoring spaces and dashes (through the lookup hash)."""
    if not isinstance(code, str) or not codes.normalise(code):
        return None
    return GiftCard.objects.for_tenant(tenant).by_code(code).first()


def cards_out_of_balance() -> QuerySet[GiftCard]:
    """Cards whose cached balance differs from the sum of their ledger rows."""
    return (
        GiftCard.objects.annotate(ledger_sum=Sum("ledger__amount_cents"))
        .filter(Q(ledger_sum__isnull=True) | ~Q(balance_cents=F("ledger_sum")))
        .order_by("business_id", "created_at", "id")
    )


def card_ledger(card: GiftCard) -> QuerySet[BalanceLog]:
    return card.ledger.order_by("created_at", "id")


# ---------------------------------------------------------------------------- staff pages


def cards_matching_code(*, code: str, business_id: int | None = None) -> list[GiftCard]:
    """Live cards, not deleted, whose code matches (for the public balance page).

    Codes are unique per business, not globally: without a business this may return cards of
    several businesses (at most two are fetched; the caller treats that as no match).
    """
    if not isinstance(code, str) or not codes.normalise(code):
        return []
    queryset = (
        GiftCard.objects.filter(mode=Mode.LIVE)
        .not_deleted()
        .by_code(code)
        .select_related("business")
    )
    if business_id is not None:
        queryset = queryset.filter(business_id=business_id)
    return list(queryset[:2])


SOLD_STATUSES = (Status.INACTIVE, Status.ACTIVE)  # usable ones; redeemed cards are spent


@dataclass(frozen=True)
class DashboardFigures:
    """What a business's dashboard shows, for one mode, as of `now`."""

    now: datetime
    days: list[date]
    # [{"currency_code", "balance_cents", "cards"}]: balances of live cards sold and usable
    liability: list[dict]
    # [(status, cards)] of cards that are not deleted, in the status machine's order
    by_status: list[tuple[str, int]]
    deleted: int
    expired: int
    # currency -> the amount debited on each of `days` (positive cents), zero-filled
    redeemed_by_day: dict[str, list[int]]
    # sold, usable cards (as for the liability) whose expiry falls within `days` days
    expiring: list[GiftCard]
    expiring_count: int


def dashboard_figures(
    *,
    business: Business,
    mode: str = Mode.LIVE,
    now: datetime | None = None,
    days: int = 30,
    expiring_limit: int = 50,
) -> DashboardFigures:
    """Liability per currency, cards by status, debits per day (in the business's time zone)
    over the last `days` days, and the cards that expire within the next `days` days.

    The liability is what customers can still spend: live cards that were sold (inactive or
    active; a draft is not sold yet) and are not deleted, redeemed or expired. Test-mode
    cards are never money, so a test-mode dashboard shows none."""
    now = now or timezone.now()
    cards = GiftCard.objects.filter(business=business, mode=mode)
    # GiftCardQuerySet.usable() also counts drafts, which nobody has paid for.
    sold_and_usable = cards.usable(now).filter(status__in=SOLD_STATUSES)

    liability = list(
        sold_and_usable.filter(mode=Mode.LIVE)
        .values("currency_code")
        .annotate(balance_cents=Sum("balance_cents"), cards=Count("id"))
        .order_by("currency_code")
    )
    counts = dict(
        cards.not_deleted().values_list("status").annotate(n=Count("id")).order_by("status")
    )
    by_status = [(status, counts.get(status, 0)) for status in Status.values]

    zone = business.tzinfo
    today = now.astimezone(zone).date()
    day_list = [today - timedelta(days=offset) for offset in range(days - 1, -1, -1)]
    start = datetime.combine(day_list[0], time.min, tzinfo=zone)
    rows = (
        BalanceLog.objects.filter(
            card__business=business,
            card__mode=mode,
            kind=BalanceLog.Kind.DEBIT,
            created_at__gte=start,
            created_at__lte=now,
        )
        .annotate(day=TruncDate("created_at", tzinfo=zone))
        .values("day", "card__currency_code")
        .annotate(total=Sum("amount_cents"))
        .order_by()
    )
    index = {day: position for position, day in enumerate(day_list)}
    redeemed: dict[str, list[int]] = {}
    for row in rows:
        series = redeemed.setdefault(row["card__currency_code"], [0] * days)
        if row["day"] in index:
            series[index[row["day"]]] += -row["total"]

    expiring = sold_and_usable.filter(expires_at__lte=now + timedelta(days=days))
    return DashboardFigures(
        now=now,
        days=day_list,
        liability=liability,
        by_status=by_status,
        deleted=cards.filter(deleted_at__isnull=False).count(),
        expired=cards.not_deleted().filter(expires_at__lte=now).count(),
        redeemed_by_day=dict(sorted(redeemed.items())),
        expiring=list(
            expiring.select_related("client", "business").order_by("expires_at", "id")[
                :expiring_limit
            ]
        ),
        expiring_count=expiring.count(),
    )
