"""Balance changes from many threads at once: nothing lost, nothing created, no overdraft.

Each thread has its own database connection, so these tests commit for real
(`transaction=True`) and every worker closes its connection when done. On PostgreSQL the
card row lock serialises writers; on SQLite the IMMEDIATE transactions and busy timeout of
the settings must do the same without "database is locked".
"""

from __future__ import annotations

import random
import threading
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import pytest
from django.db import connection
from django.db.models import Sum

from giftcards import exceptions, services
from giftcards.models import BalanceLog, GiftCard, Status

BARRIER_TIMEOUT = 60  # seconds; only a safety net against a hung test, never asserted on


def run_together(calls: list[Callable[[], object]]) -> list[object]:
    """Run every call in its own thread, all released at once; return each call's result or
    the exception it raised, in the order given. Each thread closes its connection."""
    barrier = threading.Barrier(len(calls), timeout=BARRIER_TIMEOUT)

    def worker(call):
        try:
            barrier.wait()
            return call()
        except Exception as exc:  # collected and judged by the test, not swallowed
            return exc
        finally:
            connection.close()

    with ThreadPoolExecutor(max_workers=len(calls)) as pool:
        return list(pool.map(worker, calls))


def ledger_sum(card: GiftCard) -> int:
    return BalanceLog.objects.filter(card=card).aggregate(total=Sum("amount_cents"))["total"]


def assert_ledger_chain(card: GiftCard) -> None:
    """Every row's balance_after is the running sum: no two writers saw the same balance."""
    running = 0
    for row in BalanceLog.objects.filter(card=card).order_by("id"):
        running += row.amount_cents
        assert row.balance_after_cents == running, f"broken chain at {row}"
    assert running == card.balance_cents


def split(results, expected_errors: tuple[type[Exception], ...]):
    """(successes, refusals); any other outcome (e.g. OperationalError) fails the test."""
    successes = [r for r in results if isinstance(r, services.BalanceChange)]
    refusals = [r for r in results if isinstance(r, expected_errors)]
    unexpected = [
        r for r in results if not isinstance(r, (services.BalanceChange, *expected_errors))
    ]
    assert not unexpected, f"unexpected outcomes: {unexpected!r}"
    return successes, refusals


@pytest.mark.django_db(transaction=True)
def test_fifty_parallel_debits_never_overdraw_the_card(make_card, actor, tenant):
    card = make_card(balance_cents=10_000)

    results = run_together(
        [
            lambda: services.card_debit(
                card=card.pk, tenant=tenant, amount_cents=1_000, actor=actor
            )
            for _ in range(50)
        ]
    )

    successes, refusals = split(results, (exceptions.InsufficientBalance, exceptions.CardNotActive))
    assert len(successes) == 10
    assert len(refusals) == 40
    card.refresh_from_db()
    assert card.balance_cents == 0
    assert card.status == Status.REDEEMED
    assert BalanceLog.objects.filter(card=card).count() == 11
    assert BalanceLog.objects.filter(card=card, kind=BalanceLog.Kind.DEBIT).count() == 10
    assert sorted(s.entry.balance_after_cents for s in successes) == list(range(0, 10_000, 1_000))
    assert_ledger_chain(card)


@pytest.mark.django_db(transaction=True)
def test_parallel_recharges_and_debits_keep_the_ledger_and_the_maximum(make_card, actor, tenant):
    initial, maximum, recharge, debit = 5_000, 10_000, 1_500, 700
    card = make_card(balance_cents=initial, balance_max_cents=maximum, rechargeable=True)
    kinds = ["recharge"] * 20 + ["debit"] * 30
    random.Random(20240601).shuffle(kinds)

    def call(kind):
        if kind == "recharge":
            return lambda: services.card_recharge(
                card=card.pk, tenant=tenant, amount_cents=recharge, actor=actor
            )
        return lambda: services.card_debit(
            card=card.pk, tenant=tenant, amount_cents=debit, actor=actor
        )

    results = run_together([call(kind) for kind in kinds])

    outcomes = Counter()
    for kind, result in zip(kinds, results, strict=True):
        if isinstance(result, services.BalanceChange):
            outcomes[kind, "ok"] += 1
        elif kind == "recharge" and isinstance(result, exceptions.BalanceMaxExceeded):
            outcomes[kind, "refused"] += 1
        elif kind == "debit" and isinstance(
            result, exceptions.InsufficientBalance | exceptions.CardNotActive
        ):
            # A debit that brings the card to 0 redeems it; later debits see "redeemed".
            outcomes[kind, "refused"] += 1
        else:
            pytest.fail(f"unexpected outcome of a {kind}: {result!r}")
    assert outcomes["recharge", "ok"] + outcomes["recharge", "refused"] == 20
    assert outcomes["debit", "ok"] + outcomes["debit", "refused"] == 30

    card.refresh_from_db()
    expected = initial + recharge * outcomes["recharge", "ok"] - debit * outcomes["debit", "ok"]
    assert card.balance_cents == expected
    assert card.balance_cents == ledger_sum(card)
    assert 0 <= card.balance_cents <= maximum
    successes = outcomes["recharge", "ok"] + outcomes["debit", "ok"]
    assert BalanceLog.objects.filter(card=card).count() == 1 + successes
    # Only a debit reaching 0 redeems the card, and any later recharge re-activates it.
    assert card.status == (Status.REDEEMED if card.balance_cents == 0 else Status.ACTIVE)
    assert_ledger_chain(card)


@pytest.mark.postgres_only
@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("round_", range(5))
def test_two_debits_racing_for_the_last_dollar_one_wins(make_card, actor, tenant, round_):
    card = make_card(balance_cents=100)

    results = run_together(
        [lambda: services.card_debit(card=card.pk, tenant=tenant, amount_cents=100, actor=actor)]
        * 2
    )

    successes, refusals = split(results, (exceptions.InsufficientBalance, exceptions.CardNotActive))
    assert len(successes) == 1
    assert len(refusals) == 1
    card.refresh_from_db()
    assert card.balance_cents == 0
    assert card.status == Status.REDEEMED
    assert BalanceLog.objects.filter(card=card).count() == 2
    assert_ledger_chain(card)


@pytest.mark.postgres_only
@pytest.mark.django_db(transaction=True)
def test_parallel_replays_of_one_idempotent_debit_write_one_row(make_card, actor, tenant):
    card = make_card(balance_cents=10_000)

    results = run_together(
        [
            lambda: services.card_debit(
                card=card.pk,
                tenant=tenant,
                amount_cents=500,
                actor=actor,
                idempotency_key="order-42",
            )
        ]
        * 10
    )

    successes, _ = split(results, ())
    assert len(successes) == 10
    assert len({s.entry.pk for s in successes}) == 1
    assert sum(not s.replayed for s in successes) == 1
    card.refresh_from_db()
    assert card.balance_cents == 9_500
    assert BalanceLog.objects.filter(card=card).count() == 2
    assert BalanceLog.objects.filter(card=card, idempotency_key="order-42").count() == 1
    assert_ledger_chain(card)
