"""Seeds the benchmark database through the public services (giftcards.services and
catalogue, clients.services), plus one bulk insert of ledger rows that keeps its card
reconciled."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from django.db import connection
from django.db.models import Count, Sum
from django.utils import timezone

from clients.services import api_key_create, business_create, client_create
from clients.tenancy import Actor, Mode, Tenant
from giftcards import catalogue, services
from giftcards.models import BalanceLog, GiftCard, Status

BIG_BALANCE = 10**9  # $10,000,000: never runs out under a few thousand 1-cent debits
HUGE_BALANCE = 10**12


@dataclass
class Seeded:
    business_id: int
    secret: str
    list_card_ids: list[str]  # the first page of the JSON:API list, in its order
    client_id: int  # owns the first 20 list cards (the plain API's client list)
    spread_ids: list[str]
    hot_ids: dict[str, str]  # one hot card per debit variant
    one_row_ids: list[str]  # fresh cards with only their issue row
    big_card_id: str  # the card with 10,000 ledger rows
    big_card_check: str = ""  # its row count and whether its balance is its ledger's sum
    timings: dict[str, float] = field(default_factory=dict)


def _rich_cards(tenant: Tenant, actor: Actor, count: int, client_cards: int) -> tuple[list, int]:
    """Cards with a recipient, a market, two tags, debits under order references and a
    recharge; the first `client_cards` belong to one client."""
    markets = [
        catalogue.market_create(tenant=tenant, actor=actor, name="Web shop", currency_code="USD"),
        catalogue.market_create(tenant=tenant, actor=actor, name="Berlin", currency_code="EUR"),
    ]
    tags = [
        catalogue.tag_create(tenant=tenant, actor=actor, name=name)
        for name in ("birthday", "corporate", "summer", "vip")
    ]
    client = client_create(
        tenant=tenant, actor=actor, first_name="Ada", last_name="Bench", email="ada@example.com"
    )
    in_a_year = timezone.now() + dt.timedelta(days=365)
    ids = []
    for i in range(count):
        market = markets[1] if i % 3 == 2 else markets[0]
        recipient = services.recipient_find_or_create(
            tenant=tenant,
            email=f"recipient{i}@example.com",
            defaults={"first_name": f"First{i}", "last_name": f"Last{i}", "reference": f"R{i}"},
        )
        card = services.card_issue(
            tenant=tenant,
            actor=actor,
            balance_cents=50_000 + 137 * i,
            status=Status.ACTIVE,
            balance_max_cents=200_000 if i % 2 else None,
            expires_at=in_a_year if i % 4 == 1 else None,
            reference=f"REF-{i:04d}",
            reference_origin="bench",
            metadata={"batch": i // 10, "channel": "web"},
            client=client if i < client_cards else None,
            recipient=recipient,
            market=market,
            tags=[tags[i % 4], tags[(i + 1) % 4]],
        )
        services.card_debit(card=card, amount_cents=1_250, actor=actor, order_reference=f"O-{i}")
        services.card_recharge(card=card, amount_cents=500, actor=actor)
        services.card_debit(card=card, amount_cents=399, actor=actor, order_reference=f"O-{i}")
        services.card_debit(card=card, amount_cents=1, actor=actor, order_reference=f"P-{i}")
        ids.append(card.pk)
    return ids, client.pk


def _card_with_rows(tenant: Tenant, actor: Actor, rows: int) -> str:
    """A card with `rows` ledger rows: its issue, then alternating 1-cent debits and recharges
    inserted in bulk (they sum to zero, so the cached balance stays right), dated between the
    issue and now, and one last debit through the service."""
    card = services.card_issue(
        tenant=tenant, actor=actor, balance_cents=BIG_BALANCE, status=Status.ACTIVE
    )
    bulk = rows - 2
    bulk -= bulk % 2
    issued, step = card.created_at, (timezone.now() - card.created_at) / (bulk + 1)
    entries = []
    for i in range(bulk):
        debit = i % 2 == 0
        entries.append(
            BalanceLog(
                card=card,
                kind=BalanceLog.Kind.DEBIT if debit else BalanceLog.Kind.RECHARGE,
                amount_cents=-1 if debit else 1,
                balance_after_cents=BIG_BALANCE - 1 if debit else BIG_BALANCE,
                order_reference=f"BULK-{i // 2}" if debit else "",
                actor_name=actor.name,
                created_at=issued + step * (i + 1),
            )
        )
    BalanceLog.objects.bulk_create(entries, batch_size=2_000)
    while BalanceLog.objects.filter(card=card).count() < rows:
        services.card_debit(card=card, amount_cents=1, actor=actor, order_reference="LAST")
    return card.pk


def _check_reconciled(card_id: str) -> str:
    ledger = BalanceLog.objects.filter(card_id=card_id).aggregate(
        rows=Count("id"), total=Sum("amount_cents")
    )
    balance = GiftCard.objects.get(pk=card_id).balance_cents
    verdict = "==" if balance == ledger["total"] else "!="
    return f"{ledger['rows']:,} rows, balance {verdict} ledger sum"


def seed(*, spread: int, one_row_cards: int, big_rows: int, hot_variants: list[str]) -> Seeded:
    actor = Actor.system("bench-seed")
    business = business_create(name="HTTP bench", currency_code="USD", locale="en_US")
    tenant = Tenant(business=business, mode=Mode.LIVE)
    secret = api_key_create(business=business, name="bench-http", mode=Mode.LIVE)[1]
    timings = {}

    started = timezone.now()
    list_ids, client_id = _rich_cards(tenant, actor, count=30, client_cards=20)
    issue = dict(tenant=tenant, actor=actor, balance_cents=BIG_BALANCE, status=Status.ACTIVE)
    spread_ids = [services.card_issue(**issue).pk for _ in range(spread)]
    hot_ids = {
        name: services.card_issue(**{**issue, "balance_cents": HUGE_BALANCE}).pk
        for name in hot_variants
    }
    one_row_ids = [services.card_issue(**issue).pk for _ in range(one_row_cards)]
    timings["cards"] = (timezone.now() - started).total_seconds()

    started = timezone.now()
    big_card_id = _card_with_rows(tenant, actor, big_rows)
    timings["ledger rows"] = (timezone.now() - started).total_seconds()

    first_page = GiftCard.objects.for_tenant(tenant).order_by("created_at", "id")[:25]
    if [card.pk for card in first_page] != list_ids[:25]:
        raise RuntimeError("The cards with recipients, markets and tags must be the first page.")
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")  # fresh statistics, as a long-lived database would have
    return Seeded(
        business_id=business.pk,
        secret=secret,
        list_card_ids=list_ids[:25],
        client_id=client_id,
        spread_ids=spread_ids,
        hot_ids=hot_ids,
        one_row_ids=one_row_ids,
        big_card_id=big_card_id,
        big_card_check=_check_reconciled(big_card_id),
        timings=timings,
    )
