"""Reports for accountants and managers, by day in the business's time zone: what was owed at
the end of a day (replayed from the ledger and the cards' history), the cards expiring in a
window or expired with a balance, and sales and redemptions per day.

Each report is a function of a business (and mode) and days, returning rows; `*_csv` turns
them into CSV rows (header first) for the dashboard's downloads and `liability_report`. Every
report costs a fixed number of queries whatever the number of cards, and rows are streamed,
never held all at once.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from django.db import connection
from django.db.models import Count, F, Min, Q, Sum, Window
from django.db.models.functions import RowNumber, TruncDate
from django.utils import timezone

from clients.models import Business
from clients.tenancy import Mode
from giftcards import codes, dates, money
from giftcards.admin.export import _text  # the export's rule against spreadsheet formulas
from giftcards.models import BalanceLog, GiftCard, Market, Status

SOLD_STATUSES = (Status.INACTIVE, Status.ACTIVE)  # as the dashboard: sold and not spent
MAX_ACTIVITY_DAYS = 366  # one row per day and currency: a year at most per download
CHUNK_SIZE = 2000  # rows per round trip when streaming (a server-side cursor on PostgreSQL)
_DAY = re.compile(r"\d{4}-\d{2}-\d{2}")


class ReportError(ValueError):
    """A day or a range a report cannot be made for; the message is for the person asking."""


class DayNotBegun(ReportError):
    """The day has not begun yet in the business's time zone (it is still the day before)."""


# ---------------------------------------------------------------------------- days


def parse_day(text: object, *, name: str = "date") -> date:
    """A day written YYYY-MM-DD (nothing else: no week dates, no times). Raises ReportError."""
    if isinstance(text, str) and _DAY.fullmatch(text.strip()):
        try:
            return date.fromisoformat(text.strip())
        except ValueError:
            pass
    shown = str(text)[:40]
    raise ReportError(f'The {name} must be a day written YYYY-MM-DD; "{shown}" is not one.')


def today(business: Business, now: datetime | None = None) -> date:
    return (now or timezone.now()).astimezone(business.tzinfo).date()


def day_bounds(
    business: Business, first: date, last: date | None = None
) -> tuple[datetime, datetime]:
    """[start, end): from the midnight that starts `first` to the midnight that ends `last`
    (default `first`) in the business's time zone. Raises ReportError outside the moments
    the service accepts (giftcards/dates.py)."""
    last = first if last is None else last
    try:
        start = datetime.combine(first, time.min, tzinfo=business.tzinfo)
        end = datetime.combine(last + timedelta(days=1), time.min, tzinfo=business.tzinfo)
    except OverflowError:
        start = end = None
    if start is None or not (dates.in_range(start) and dates.in_range(end)):
        raise ReportError(f"Days must fall {dates.RANGE_TEXT}.")
    return start, end


def _checked_range(business: Business, first: date, last: date, *, max_days: int | None = None):
    if last < first:
        raise ReportError(f"The range ends ({last}) before it starts ({first}).")
    if max_days is not None and (last - first).days + 1 > max_days:
        raise ReportError(f"A range covers at most {max_days} days.")
    return day_bounds(business, first, last)


# ---------------------------------------------------------------------------- liability


@dataclass(frozen=True)
class LiabilityRow:
    """What was owed at the end of a day in one currency and market (None: no market)."""

    currency_code: str
    market_id: int | None
    market_name: str
    cards: int
    balance_cents: int


# One statement, whatever the number of cards. `latest`: each card's state as of the moment
# (its last historical row before it). `owed`: the cards that were a liability then, by the
# dashboard's rule (live, sold, not deleted, redeemed or expired), each with its ledger
# summed up to the moment: a lookup in the ledger's (card, created_at) index per card, where
# joining a grouped ledger made SQLite compare every card with every other (minutes for
# 100,000 cards). Window functions: SQLite 3.25+ and PostgreSQL.
_LIABILITY_SQL = """
WITH latest AS (
    SELECT h.id, h.mode, h.status, h.deleted_at, h.expires_at, h.market_id, h.currency_code,
           h.history_type,
           ROW_NUMBER() OVER (
               PARTITION BY h.id ORDER BY h.history_date DESC, h.history_id DESC
           ) AS position
    FROM {history} h
    WHERE h.business_id = %s AND h.history_date < %s
), owed AS (
    SELECT latest.currency_code, latest.market_id, (
        SELECT COALESCE(SUM(l.amount_cents), 0) FROM {ledger} l
        WHERE l.card_id = latest.id AND l.created_at < %s
    ) AS balance_cents
    FROM latest
    WHERE position = 1 AND history_type <> '-' AND mode = %s AND status IN (%s, %s)
      AND deleted_at IS NULL AND (expires_at IS NULL OR expires_at >= %s)
)
SELECT o.currency_code, o.market_id, m.name, COUNT(*), COALESCE(SUM(o.balance_cents), 0)
FROM owed o LEFT JOIN {market} m ON m.id = o.market_id
GROUP BY o.currency_code, o.market_id, m.name
"""


def liability_as_of(
    *, business: Business, as_of: date, now: datetime | None = None
) -> list[LiabilityRow]:
    """What the business owed its customers at the end of `as_of` (in its time zone), per
    currency and market (cards without a market first), replayed from the ledger.

    The moment is the midnight that ends `as_of`: ledger rows and card changes before it
    count, none at or after it. Owed, as on the live dashboard, are live-mode cards that were
    then sold (inactive or active), not deleted and not expired (a card whose expiry is that
    midnight, valid through `as_of`, is still owed); each card's status, deletion, expiry,
    market and currency are those of its last historical row before the moment, its balance
    the sum of its ledger rows created before it. Test-mode cards are never owed. Raises
    DayNotBegun for a day that has not begun in the business's time zone, ReportError for one
    out of range.
    """
    if as_of > today(business, now):
        raise DayNotBegun(
            f"{as_of} has not begun yet in {business.timezone}: the latest day to report "
            f"is {today(business, now)}."
        )
    _start, moment = day_bounds(business, as_of)
    quote = connection.ops.quote_name
    sql = _LIABILITY_SQL.format(
        history=quote(GiftCard.history.model._meta.db_table),
        ledger=quote(BalanceLog._meta.db_table),
        market=quote(Market._meta.db_table),
    )
    at = connection.ops.adapt_datetimefield_value(moment)
    params = [business.pk, at, at, Mode.LIVE, *SOLD_STATUSES, at]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        found = cursor.fetchall()
    rows = [
        LiabilityRow(currency, market_id, name or "", int(cards), int(cents))
        for currency, market_id, name, cards, cents in found
    ]
    # Sorted here: SQLite and PostgreSQL put NULL (no market) at opposite ends.
    return sorted(
        rows, key=lambda row: (row.currency_code, row.market_id is not None, row.market_name)
    )


LIABILITY_HEADER = [
    "business_id",
    "business",
    "as_of",
    "currency",
    "market",
    "cards",
    "liability",
    "liability_cents",
]


def liability_csv(business: Business, as_of: date, rows: list[LiabilityRow]) -> Iterator[list]:
    """The CSV rows (no header) of one business's liability; liability in major units."""
    for row in rows:
        yield [
            business.pk,
            _text(business.name),
            as_of.isoformat(),
            row.currency_code,
            _text(row.market_name),
            row.cards,
            _major(row.balance_cents, row.currency_code),
            row.balance_cents,
        ]


# ---------------------------------------------------------------------------- expiry


EXPIRY_HEADER = [
    "section",
    "card_id",
    "card",
    "status",
    "expires_at",
    "market",
    "currency",
    "cards",
    "balance",
    "balance_cents",
]
EXPIRING, EXPIRED = "expiring", "expired_with_balance"


def expiring_cards(*, business: Business, mode: str, first: date, last: date):
    """Sold cards (inactive or active), not deleted, whose expiry falls from the start of
    `first` to the end of `last` in the business's time zone (already past or not), soonest
    first, as value tuples (id, code_last4, status, expires_at, market name, currency,
    balance_cents). Raises ReportError for a bad range."""
    start, end = _checked_range(business, first, last)
    return _expiry_values(business, mode, Q(expires_at__gte=start, expires_at__lt=end))


def expired_with_balance(*, business: Business, mode: str, now: datetime | None = None):
    """Sold cards (inactive or active), not deleted, expired by `now` with money left on
    them (what will never be spent unless the expiry moves), oldest expiry first."""
    return _expiry_values(
        business, mode, Q(expires_at__lte=now or timezone.now(), balance_cents__gt=0)
    )


def _expiry_values(business: Business, mode: str, where: Q):
    return (
        GiftCard.objects.filter(business=business, mode=mode, status__in=SOLD_STATUSES)
        .not_deleted()
        .filter(where)
        .order_by("expires_at", "id")
        .values_list(
            "id",
            "code_last4",
            "status",
            "expires_at",
            "market__name",
            "currency_code",
            "balance_cents",
        )
    )


def expiry_csv(
    *, business: Business, mode: str, first: date, last: date, now: datetime | None = None
) -> Iterator[list]:
    """The expiry report as CSV rows, header first: each card expiring in the window, then a
    total row per currency; then each expired card still holding a balance, then its totals.
    Codes are masked; times are in the business's time zone. Two queries, streamed."""
    sections = [
        (EXPIRING, expiring_cards(business=business, mode=mode, first=first, last=last)),
        (EXPIRED, expired_with_balance(business=business, mode=mode, now=now)),
    ]
    zone = business.tzinfo
    yield EXPIRY_HEADER
    for section, queryset in sections:
        totals: dict[str, list[int]] = {}
        for pk, last4, status, expires_at, market, currency, cents in queryset.iterator(
            chunk_size=CHUNK_SIZE
        ):
            total = totals.setdefault(currency, [0, 0])
            total[0] += 1
            total[1] += cents
            yield [
                section,
                pk,
                codes.mask(last4),
                status,
                expires_at.astimezone(zone).isoformat(),
                _text(market),
                currency,
                1,
                _major(cents, currency),
                cents,
            ]
        for currency, (cards, cents) in sorted(totals.items()):
            yield [
                f"{section}_total",
                "",
                "",
                "",
                "",
                "",
                currency,
                cards,
                _major(cents, currency),
                cents,
            ]


# ---------------------------------------------------------------------------- activity


@dataclass
class DayActivity:
    """Sales and redemptions of one day in one currency (cents positive)."""

    day: date
    currency_code: str
    cards_sold: int = 0
    sold_cents: int = 0
    redemptions: int = 0
    redeemed_cents: int = 0
    refunds: int = 0
    refunded_cents: int = 0

    @property
    def net_redeemed_cents(self) -> int:
        return self.redeemed_cents - self.refunded_cents


def activity_by_day(*, business: Business, mode: str, first: date, last: date) -> list[DayActivity]:
    """Per day from `first` to `last` (in the business's time zone) and currency: the cards
    sold and their amount, the debits (redemptions), the refunds given back; every day of
    the range, zero-filled, for each currency that saw any of these (the business's own
    currency when none did). At most MAX_ACTIVITY_DAYS days; two queries.

    A card is sold when it leaves draft (issued inactive or active, or purchased or
    activated later): the moment of its first historical row in a sold status, for the
    balance it had then. A card deleted or expired since still counts on the day it was sold.
    Redemptions and refunds are `debit` and `refund` ledger rows (not transfers,
    recharges or adjustments). Raises ReportError for a bad range."""
    start, end = _checked_range(business, first, last, max_days=MAX_ACTIVITY_DAYS)
    zone = business.tzinfo
    found: dict[tuple[date, str], DayActivity] = {}

    def at(day: date, currency: str) -> DayActivity:
        return found.setdefault((day, currency), DayActivity(day, currency))

    history = GiftCard.history.model.objects
    sales = (
        # Only rows before the end: a card whose first sold row is later is not sold here.
        history.filter(business=business, mode=mode, history_date__lt=end)
        .exclude(status=Status.DRAFT)
        .exclude(history_type="-")
        .annotate(
            position=Window(
                RowNumber(), partition_by=[F("id")], order_by=[F("history_date"), F("history_id")]
            ),
            sold_at=Window(Min("history_date"), partition_by=[F("id")]),
        )
        # Both on window values, so filtered after each card's first sold row is picked.
        .filter(position=1, sold_at__gte=start)
        .values_list("sold_at", "currency_code", "balance_cents")
        .order_by()
    )
    for sold_at, currency, cents in sales.iterator(chunk_size=CHUNK_SIZE):
        row = at(sold_at.astimezone(zone).date(), currency)
        row.cards_sold += 1
        row.sold_cents += cents

    Kind = BalanceLog.Kind
    ledger = (
        BalanceLog.objects.filter(
            card__business=business,
            card__mode=mode,
            kind__in=[Kind.DEBIT, Kind.REFUND],
            created_at__gte=start,
            created_at__lt=end,
        )
        .annotate(day=TruncDate("created_at", tzinfo=zone))
        .values("day", "card__currency_code", "kind")
        .annotate(rows=Count("id"), cents=Sum("amount_cents"))
        .order_by()
    )
    for entry in ledger:
        row = at(entry["day"], entry["card__currency_code"])
        if entry["kind"] == Kind.DEBIT:
            row.redemptions += entry["rows"]
            row.redeemed_cents += -entry["cents"]
        else:
            row.refunds += entry["rows"]
            row.refunded_cents += entry["cents"]

    currencies = sorted({currency for _day, currency in found} or {business.currency_code})
    days = [first + timedelta(days=offset) for offset in range((last - first).days + 1)]
    return [
        found.get((day, currency)) or DayActivity(day, currency)
        for day in days
        for currency in currencies
    ]


ACTIVITY_HEADER = [
    "day",
    "currency",
    "cards_sold",
    "sold",
    "sold_cents",
    "redemptions",
    "redeemed",
    "redeemed_cents",
    "refunds",
    "refunded",
    "refunded_cents",
    "net_redeemed",
    "net_redeemed_cents",
]


def activity_csv(*, business: Business, mode: str, first: date, last: date) -> Iterator[list]:
    """`activity_by_day` as CSV rows, header first, amounts in major units and in cents."""
    rows = activity_by_day(business=business, mode=mode, first=first, last=last)
    yield ACTIVITY_HEADER
    for row in rows:
        currency = row.currency_code
        yield [
            row.day.isoformat(),
            currency,
            row.cards_sold,
            _major(row.sold_cents, currency),
            row.sold_cents,
            row.redemptions,
            _major(row.redeemed_cents, currency),
            row.redeemed_cents,
            row.refunds,
            _major(row.refunded_cents, currency),
            row.refunded_cents,
            _major(row.net_redeemed_cents, currency),
            row.net_redeemed_cents,
        ]


def _major(cents: int, currency_code: str) -> str:
    return str(money.to_major(cents, currency_code))
