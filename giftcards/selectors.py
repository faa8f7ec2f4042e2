"""Reads shared by the APIs, the admin and the commands."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from django.db import connection
from django.db.models import CharField, Count, F, Func, Q, QuerySet, Sum
from django.db.models.expressions import RawSQL
from django.db.models.functions import TruncDate
from django.utils import timezone

from clients.models import Business
from clients.tenancy import Mode, Tenant
from giftcards import codes
from giftcards.models import Attachment, BalanceLog, GiftCard, Status


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


# ---------------------------------------------------------------------------- rendering reads
# What a JSON:API document of a card needs, in as few queries as the request allows.

ZERO = timedelta(0)


def iso_utc(value: datetime | None) -> str | None:
    """The APIs' datetime format: ISO 8601 in UTC with a `Z` (microseconds when not 0)."""
    if value is None:
        return None
    if value.utcoffset() != ZERO:
        value = value.astimezone(UTC)
    text = value.isoformat()
    return text[:-6] + "Z" if text.endswith("+00:00") else text


class IsoUtc(Func):
    """`iso_utc` done by the database: parsing thousands of timestamps into datetimes and
    formatting them again costs ten times more than reading the rest of a ledger row."""

    output_field = CharField()

    def as_postgresql(self, compiler, connection, **extra):
        sql, params = compiler.compile(self.source_expressions[0])
        plain = '\'YYYY-MM-DD"T"HH24:MI:SS"Z"\''
        micro = '\'YYYY-MM-DD"T"HH24:MI:SS.US"Z"\''
        return (
            f"TO_CHAR(({sql}) AT TIME ZONE 'UTC', CASE WHEN "
            f"DATE_PART('microseconds', {sql})::integer %% 1000000 = 0 "
            f"THEN {plain} ELSE {micro} END)",
            (*params, *params),
        )

    def as_sqlite(self, compiler, connection, **extra):
        # Stored as UTC text, "YYYY-MM-DD HH:MM:SS[.ffffff]", as isoformat() writes it.
        sql, params = compiler.compile(self.source_expressions[0])
        return f"(REPLACE({sql}, ' ', 'T') || 'Z')", params


# A ledger row as documents render it: a tuple, its time already text, far cheaper than a
# model instance for the thousands of rows an old card has.
LEDGER_ROW = ("id", "kind", "amount_cents", "balance_after_cents", "order_reference", "at")


def _ledger_values(queryset, *extra: str):
    return queryset.annotate(at=IsoUtc("created_at")).values_list(*LEDGER_ROW, *extra)


# ---------------------------------------------------------------------------- snapshots


def ledger_row(entry: BalanceLog) -> tuple:
    return (*(getattr(entry, name) for name in LEDGER_ROW[:-1]), iso_utc(entry.created_at))


_TAG_PAIRS_SQL = {
    "postgresql": (
        "SELECT COALESCE(json_agg(json_build_array(t.id, t.name)), '[]'::json) "
        "FROM giftcards_tag t JOIN giftcards_giftcard_tags gt ON gt.tag_id = t.id "
        "WHERE gt.giftcard_id = giftcards_giftcard.id"
    ),
    "sqlite": (
        "SELECT json_group_array(json_array(t.id, t.name)) "
        "FROM giftcards_tag t JOIN giftcards_giftcard_tags gt ON gt.tag_id = t.id "
        "WHERE gt.giftcard_id = giftcards_giftcard.id"
    ),
}


def with_tag_pairs(queryset: QuerySet[GiftCard]) -> QuerySet[GiftCard]:
    """Each card's tags as `tag_pairs` ([(id, name)], by name), in the card's own query: the
    linkage of a single card without a query of its own."""
    return queryset.annotate(tag_pairs=RawSQL(f"({_TAG_PAIRS_SQL[connection.vendor]})", ()))


def tag_pairs(card: GiftCard) -> list[tuple[int, str]]:
    raw = card.tag_pairs
    pairs = json.loads(raw) if isinstance(raw, str) else raw
    return sorted(((pk, name) for pk, name in pairs), key=lambda pair: (pair[1], pair[0]))


def tag_pairs_of(card: GiftCard) -> list[list]:
    """The same, read on its own (after a change of tags)."""
    return [[pk, name] for pk, name in card.tags.order_by("name", "id").values_list("pk", "name")]


@dataclass(frozen=True)
class LedgerSnapshot:
    """A card's ledger read before its lock was taken, with the card's `updated_at` as of
    the same statement (as text, like the rows' times): every ledger row changes the card,
    so a locked card with the same `updated_at` has exactly these rows."""

    card_id: str
    rows: list[tuple]  # LEDGER_ROW
    card_updated_at: str | None


def ledger_snapshot(*, tenant: Tenant, card_id: str) -> LedgerSnapshot:
    """One statement: the ledger of the tenant's card (nothing for another tenant's)."""
    rows = BalanceLog.objects.filter(
        card_id=card_id, card__business=tenant.business, card__mode=tenant.mode
    ).order_by("created_at", "id")
    rows = list(_ledger_values(rows.annotate(card_at=IsoUtc("card__updated_at")), "card_at"))
    return LedgerSnapshot(
        card_id=card_id,
        rows=[row[:-1] for row in rows],
        card_updated_at=rows[-1][-1] if rows else None,
    )


def ledger_as_of_lock(locked: GiftCard, seen: LedgerSnapshot) -> list[tuple]:
    """The whole ledger of the locked card: the snapshot, plus (only when the card changed
    since it was read) the few rows written in between."""
    if seen.card_id != locked.pk:
        raise ValueError("The snapshot is of another card.")
    if seen.card_updated_at == iso_utc(locked.updated_at) and seen.rows:
        return list(seen.rows)
    last = seen.rows[-1][0] if seen.rows else 0
    later = locked.ledger.filter(pk__gt=last).order_by("created_at", "id")
    return [*seen.rows, *_ledger_values(later)]


def card_ledger_rows(card_ids) -> dict[str, list[tuple]]:
    """The ledgers of several cards, oldest row first, in one query."""
    ledgers: dict[str, list[tuple]] = {pk: [] for pk in card_ids}
    rows = BalanceLog.objects.filter(card_id__in=card_ids).order_by("created_at", "id")
    for *row, card_id in _ledger_values(rows, "card_id"):
        ledgers[card_id].append(tuple(row))
    return ledgers


def attachments_of(*, tenant: Tenant, attachable_type: str, attachable_id) -> QuerySet:
    """What is attached to one card, recipient or market of `tenant`, oldest first."""
    return Attachment.objects.for_tenant(tenant).filter(
        attachable_type=attachable_type, attachable_id=str(attachable_id)
    )


def attachments_by_owner(
    *, tenant: Tenant, attachable_type: str, attachable_ids
) -> dict[str, list[Attachment]]:
    """The attachments of several rows of one type (a page), in one query: id -> oldest
    first, every id present."""
    found: dict[str, list[Attachment]] = {str(pk): [] for pk in attachable_ids}
    if not found:
        return found
    rows = Attachment.objects.for_tenant(tenant).filter(
        attachable_type=attachable_type, attachable_id__in=list(found)
    )
    for row in rows.order_by("id"):
        found[row.attachable_id].append(row)
    return found


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
