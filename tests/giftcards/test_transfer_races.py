"""Balance transfers from many threads at once (PostgreSQL): no deadlock, no money made or
lost, every transfer exactly two ledger rows; and transfers across a tenant or a currency
are refused without writing anything (both engines).

Why the races can fail: `card_transfer` locks both cards in primary-key order
(services/door.py `lock_cards`). Were it to lock the source first and then the target, a
thread moving A -> B and one moving B -> A would each hold one lock and wait for the other;
PostgreSQL breaks that with "deadlock detected" (an OperationalError), which `split` below
reports as an unexpected outcome (and the three-card ring closes the same cycle over three
cards). Were the cards not locked at all, two writers would read the same balance: a lost
update leaves a cached balance that differs from its ledger sum, a broken balance_after
chain and a changed total, or lets a card go below zero (the CheckConstraint then raises an
IntegrityError, again an unexpected outcome).
"""

from __future__ import annotations

import random
import threading
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from io import StringIO

import pytest
from django.core.management import call_command
from django.db import connection
from django.db.models import Sum

from clients.services import business_create
from clients.tenancy import Mode, Tenant
from giftcards import exceptions, services
from giftcards.models import BalanceLog, BalanceTransfer, GiftCard, OutboxEvent

Kind = BalanceLog.Kind
BARRIER_TIMEOUT = 60  # seconds; a safety net against a hung test, never asserted on
# The refusals a transfer may meet in a race: its source ran dry (a card brought to 0 is
# redeemed, so a later debit of it hears "not active" about its balance instead).
RAN_DRY = (exceptions.InsufficientBalance, exceptions.CardNotActive)


def run_threads(batches: list[list]) -> list[list]:
    """Each batch of calls runs in its own thread, one call after another; all threads start
    at once. Each call's result or the exception it raised, batch by batch. Each thread
    closes its connection."""
    barrier = threading.Barrier(len(batches), timeout=BARRIER_TIMEOUT)

    def worker(batch):
        outcomes = []
        try:
            barrier.wait()
            for call in batch:
                try:
                    outcomes.append(call())
                except Exception as exc:  # collected and judged by the test, not swallowed
                    outcomes.append(exc)
        finally:
            connection.close()
        return outcomes

    with ThreadPoolExecutor(max_workers=len(batches)) as pool:
        return list(pool.map(worker, batches))


def split(outcomes) -> tuple[list[services.TransferResult], list[Exception]]:
    """(transfers made, refusals); any other outcome (a deadlock, an IntegrityError, ...)
    fails the test."""
    made = [o for o in outcomes if isinstance(o, services.TransferResult)]
    refused = [o for o in outcomes if isinstance(o, RAN_DRY)]
    unexpected = [o for o in outcomes if not isinstance(o, (services.TransferResult, *RAN_DRY))]
    assert not unexpected, f"unexpected outcomes: {unexpected[:5]!r} ({len(unexpected)} in all)"
    for refusal in refused:
        assert refusal.subject in ("source", "amount_cents"), refusal  # the source's money
    return made, refused


def ledger_sum(card: GiftCard) -> int:
    return BalanceLog.objects.filter(card=card).aggregate(total=Sum("amount_cents"))["total"]


def assert_books_balance(cards: list[GiftCard], made: list[services.TransferResult]) -> None:
    """What every transfer race must leave: each card's balance its ledger's sum and never
    below zero on the way, one BalanceTransfer per transfer made with exactly its two rows,
    each card moved by exactly the transfers made, and `reconcile_ledger` agrees."""
    net = Counter()
    for result in made:
        net[result.transfer.source_id] -= result.transfer.amount_cents
        net[result.transfer.target_id] += result.transfer.amount_cents
    for card in cards:
        before = card.balance_cents
        card.refresh_from_db()
        assert card.balance_cents == before + net[card.pk]
        assert card.balance_cents >= 0
        assert card.balance_cents == ledger_sum(card)
        running = 0
        for row in BalanceLog.objects.filter(card=card).order_by("id"):
            running += row.amount_cents
            # Each writer saw the balance the one before it left: no lost update.
            assert row.balance_after_cents == running >= 0, f"broken chain at row {row.pk}"

    transfers = BalanceTransfer.objects.all()
    assert transfers.count() == len(made)
    assert set(transfers.values_list("pk", flat=True)) == {r.transfer.pk for r in made}
    rows = Counter(
        BalanceLog.objects.filter(transfer__isnull=False).values_list("transfer_id", "kind")
    )
    assert rows == {
        **{(r.transfer.pk, Kind.TRANSFER_OUT): 1 for r in made},
        **{(r.transfer.pk, Kind.TRANSFER_IN): 1 for r in made},
    }
    for transfer in transfers.prefetch_related("entries"):
        by_kind = {row.kind: row for row in transfer.entries.all()}
        assert by_kind[Kind.TRANSFER_OUT].card_id == transfer.source_id
        assert by_kind[Kind.TRANSFER_OUT].amount_cents == -transfer.amount_cents
        assert by_kind[Kind.TRANSFER_IN].card_id == transfer.target_id
        assert by_kind[Kind.TRANSFER_IN].amount_cents == transfer.amount_cents

    out = StringIO()
    call_command("reconcile_ledger", "--no-progress", stdout=out)
    assert f"Checked {len(cards)} cards: {len(cards)} reconcile, 0 differ." in out.getvalue()


def transfers(tenant, actor, source, target, amounts):
    return [
        lambda amount=amount: services.card_transfer(
            tenant=tenant, actor=actor, source=source.pk, target=target.pk, amount_cents=amount
        )
        for amount in amounts
    ]


# ---------------------------------------------------------------------------- races


@pytest.mark.postgres_only
@pytest.mark.django_db(transaction=True)
def test_a_hundred_transfers_each_way_between_two_cards_lose_nothing(make_card, actor, tenant):
    """Ten threads, five moving A -> B and five B -> A, twenty transfers each, of 1.00 to
    4.00 between cards of 25.00 and 15.00: both cards run dry now and then."""
    a, b = make_card(balance_cents=2_500), make_card(balance_cents=1_500)
    rng = random.Random(20261207)
    batches = [
        transfers(tenant, actor, *pair, [rng.randrange(100, 401, 50) for _ in range(20)])
        for pair in [(a, b), (b, a)] * 5
    ]

    outcomes = [o for batch in run_threads(batches) for o in batch]

    made, refused = split(outcomes)
    assert len(made) + len(refused) == 200
    # The total is 40.00 and each transfer at most 4.00: a refusal needs its source below
    # that, so most transfers go through (a rough floor, far from what a lock-free run does).
    assert len(made) > 100, Counter(type(o).__name__ for o in outcomes)
    assert_books_balance([a, b], made)
    a.refresh_from_db()
    b.refresh_from_db()
    assert a.balance_cents + b.balance_cents == 4_000


@pytest.mark.postgres_only
@pytest.mark.django_db(transaction=True)
def test_a_ring_of_transfers_over_three_cards_never_deadlocks(make_card, actor, tenant):
    """A -> B, B -> C and C -> A at once, three threads on each edge: a cycle of waits if
    the cards were locked source first; in primary-key order, none."""
    a, b, c = (make_card(balance_cents=1_000) for _ in range(3))
    batches = [transfers(tenant, actor, *pair, [200] * 15) for pair in [(a, b), (b, c), (c, a)] * 3]

    outcomes = [o for batch in run_threads(batches) for o in batch]

    made, refused = split(outcomes)
    assert len(made) + len(refused) == 135
    assert made, "no transfer went through"
    assert_books_balance([a, b, c], made)
    assert sum(card.balance_cents for card in (a, b, c)) == 3_000


# ---------------------------------------------------------------------------- refusals


def written() -> dict:
    """Everything a refused transfer must leave as it was."""
    return {
        "transfers": BalanceTransfer.objects.count(),
        "ledger": BalanceLog.objects.count(),
        "events": OutboxEvent.objects.count(),
        "history": GiftCard.history.count(),
        "cards": list(GiftCard.objects.order_by("pk").values()),
    }


@pytest.fixture
def usd_neighbour(db) -> Tenant:
    """Another business in the same currency: only the tenant differs."""
    return Tenant(business=business_create(name="Next Door", currency_code="USD"), mode=Mode.LIVE)


@pytest.mark.parametrize("direction", ["out", "in"])
@pytest.mark.parametrize(
    ("other", "refusal", "side"),
    [
        ("other_business", exceptions.CardNotFound, "away"),
        ("test_mode", exceptions.CardNotFound, "away"),
        ("other_currency", exceptions.CurrencyMismatch, None),
    ],
)
def test_a_transfer_across_tenants_or_currencies_is_refused_and_writes_nothing(
    make_card, actor, tenant, business, usd_neighbour, other, refusal, side, direction
):
    home = make_card(balance_cents=5_000)
    away = {
        "other_business": lambda: make_card(tenant=usd_neighbour, balance_cents=5_000),
        "test_mode": lambda: make_card(
            tenant=Tenant(business=business, mode=Mode.TEST), balance_cents=5_000
        ),
        "other_currency": lambda: make_card(currency_code="EUR", balance_cents=5_000),
    }[other]()
    assert away.currency_code == ("EUR" if other == "other_currency" else "USD")
    source, target = (home, away) if direction == "out" else (away, home)
    before = written()

    # The caller's tenant is the home card's; the cards go in as instances, which must not
    # vouch for their own tenant here.
    with pytest.raises(refusal) as refused:
        services.card_transfer(
            tenant=tenant, actor=actor, source=source, target=target, amount_cents=1_000
        )

    if side == "away":
        assert refused.value.subject == ("target" if direction == "out" else "source")
    assert written() == before
