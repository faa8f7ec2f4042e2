"""Real concurrency through HTTP on PostgreSQL: partial refunds of one payment, alone or mixed
with DELETE (refund the rest), racing from threads never give back more than the payment.

Why these can fail: the remainder of a payment is read under its card's row lock
(services/refunds.py). Without that lock every thread would read "10.00 remains" at once and
all twenty 1.00 refunds would pass the Python check. The database trigger of migration 0006
would not save the day either: under READ COMMITTED its SUM over the refunds sees no other
transaction's uncommitted rows, so it too lets them all in. The tests would then see more
than ten 201s and a total above the payment (or, where the trigger did catch a late one, a
5xx), a broken balance_after chain, and a card above what it held before the payment.
"""

from __future__ import annotations

import random
import threading
from collections import Counter
from decimal import Decimal
from io import StringIO

import pytest
from django.core.management import call_command
from django.db import connection
from django.db.models import Sum

from giftcards.models import BalanceLog, GiftCard
from tests.giftcards.plain_api.helpers import api_client, balance

pytestmark = [pytest.mark.postgres_only, pytest.mark.django_db(transaction=True)]

BARRIER_TIMEOUT = 30  # seconds; a safety net against a hung test, never asserted on
# A partial refund fits (201), finds too little left (422) or nothing at all (409).
ANSWERS_TO_A_PARTIAL = {("POST", 201), ("POST", 422), ("POST", 409)}


def race(secret: str, requests: list[tuple[str, str, dict | None]]) -> list[tuple]:
    """Send each (method, path, body) from its own thread and client, all released at once;
    (status, body) of each, in the order given ((None, repr) when the call raised)."""
    barrier = threading.Barrier(len(requests), timeout=BARRIER_TIMEOUT)
    results: list = [None] * len(requests)

    def worker(i: int) -> None:
        method, path, body = requests[i]
        try:
            client = api_client(secret)
            client.raise_request_exception = False  # a server error is a 500, not a raise
            barrier.wait()
            if method == "POST":
                response = client.post(path, body, format="json")
            else:
                response = client.delete(path)
            results[i] = (response.status_code, response.json())
        except Exception as exc:  # reported by the assertions below
            results[i] = (None, repr(exc))
        finally:
            connection.close()

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(len(requests))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    return results


def partial(payment_id: int, amount: str) -> tuple[str, str, dict]:
    return ("POST", f"/payments/{payment_id}/refunds", {"amount": amount, "comment": "race"})


def rest(payment_id: int) -> tuple[str, str, None]:
    return ("DELETE", f"/payments/{payment_id}", None)


def refunded_total(payment_id: int) -> int:
    total = BalanceLog.objects.filter(refund_of_id=payment_id).aggregate(t=Sum("amount_cents"))
    return total["t"] or 0


def assert_card_reconciles(card_id: str) -> None:
    """Cached balance = sum of the ledger, each row's balance_after the running sum (no two
    writers saw the same balance), and `reconcile_ledger` agrees for every card."""
    running = 0
    for row in BalanceLog.objects.filter(card_id=card_id).order_by("id"):
        running += row.amount_cents
        assert row.balance_after_cents == running, f"broken chain at row {row.pk}"
    assert balance(card_id) == running
    out = StringIO()
    call_command("reconcile_ledger", "--no-progress", stdout=out)
    assert "0 differ" in out.getvalue(), out.getvalue()


@pytest.fixture
def payment(api, create_card) -> dict:
    """A payment of 10.00 from a 100.00 card (90.00 left)."""
    card = create_card(amount="100", balanceAmount="100")
    paid = api.post(
        "/payments", {"giftCardUUId": card["giftCardUUId"], "amount": "10.00"}, format="json"
    )
    assert paid.status_code == 201, paid.content
    assert balance(card["giftCardUUId"]) == 9_000
    return paid.json()


def test_twenty_parallel_refunds_of_one_give_back_exactly_the_ten_paid(api_key, payment):
    payment_id, card_id = payment["paymentId"], payment["giftCardUUId"]

    results = race(api_key[1], [partial(payment_id, "1.00")] * 20)

    # Ten fit; the other ten find nothing left (409), never a 5xx or an over-refund.
    assert Counter(status for status, _ in results) == {201: 10, 409: 10}, results
    created = [body for status, body in results if status == 201]
    assert {body["paymentId"] for body in created} == {payment_id}
    assert sorted(Decimal(str(body["balanceAmount"])) for body in created) == [
        Decimal(91 + n) for n in range(10)
    ]  # each saw the one before it: 91.00, 92.00, ... 100.00
    refunds = BalanceLog.objects.filter(refund_of_id=payment_id)
    assert sorted(refunds.values_list("pk", flat=True)) == sorted(b["refundId"] for b in created)
    assert set(refunds.values_list("kind", "amount_cents")) == {("refund", 100)}
    assert refunded_total(payment_id) == 1_000
    assert balance(card_id) == 10_000
    assert_card_reconciles(card_id)


def test_parallel_refunds_larger_than_the_rest_are_told_what_remains(api_key, payment):
    """3.00 at a time: three fit (9.00); every other thread, whenever it got the lock, saw
    the committed 1.00 that remains and was told so (422), never a stale remainder."""
    payment_id, card_id = payment["paymentId"], payment["giftCardUUId"]

    results = race(api_key[1], [partial(payment_id, "3.00")] * 20)

    assert Counter(status for status, _ in results) == {201: 3, 422: 17}, results
    for status, body in results:
        if status == 422:
            assert "Only $1.00 of this $10.00 payment" in str(body["amount"]), body
    assert refunded_total(payment_id) == 900
    assert balance(card_id) == 9_900
    assert_card_reconciles(card_id)


@pytest.mark.parametrize("round_", range(3))
def test_partial_refunds_racing_delete_never_exceed_the_payment(api_key, payment, round_):
    payment_id, card_id = payment["paymentId"], payment["giftCardUUId"]
    requests = [partial(payment_id, "1.50")] * 12 + [rest(payment_id)] * 4
    random.Random(round_).shuffle(requests)  # thread start order varies by round

    results = race(api_key[1], requests)

    outcomes = Counter()
    for (method, _, _), (status, body) in zip(requests, results, strict=True):
        outcomes[method, status] += 1
        assert status is not None and status < 500, (method, status, body)
    # Exactly one DELETE finds something left and takes it all; the other three find nothing.
    assert outcomes["DELETE", 200] == 1, outcomes
    assert outcomes["DELETE", 409] == 3, outcomes
    assert set(outcomes) <= {("DELETE", 200), ("DELETE", 409), *ANSWERS_TO_A_PARTIAL}, outcomes
    partials = outcomes["POST", 201]
    assert partials <= 6  # 6 x 1.50 = 9.00; a seventh would exceed the 10.00
    deleted = next(body for (m, _, _), (s, body) in zip(requests, results, strict=True) if s == 200)
    assert deleted["refunded"] is True
    assert Decimal(str(deleted["refundedAmount"])) == Decimal("10")
    assert Decimal(str(deleted["refunds"][-1]["amount"])) == Decimal("10") - partials * Decimal(
        "1.5"
    )
    # Whatever the order: the payment is given back exactly, never more, in partials + 1 rows.
    assert refunded_total(payment_id) == 1_000
    assert BalanceLog.objects.filter(refund_of_id=payment_id).count() == partials + 1
    assert GiftCard.objects.get(pk=card_id).balance_cents == 10_000
    assert_card_reconciles(card_id)
