"""Real concurrency through HTTP on PostgreSQL: parallel payments race for the same balance
and exactly the money there is gets spent; nothing is lost, created or a 5xx."""

from __future__ import annotations

import threading
from collections import Counter

import pytest
from django.db import connection
from django.db.models import Sum

from giftcards.models import BalanceLog, GiftCard
from tests.giftcards.plain_api.helpers import api_client, card_body

pytestmark = [pytest.mark.postgres_only, pytest.mark.django_db(transaction=True)]

THREADS = 20


def race(secret: str, bodies: list[dict], headers: dict | None = None) -> list:
    """POST /payments with each body from its own thread and client, all at once."""
    barrier = threading.Barrier(len(bodies))
    results: list = [None] * len(bodies)

    def worker(i: int) -> None:
        try:
            client = api_client(secret)
            client.raise_request_exception = False
            barrier.wait(timeout=30)
            response = client.post("/payments", bodies[i], format="json", **(headers or {}))
            results[i] = (response.status_code, response.json())
        except Exception as exc:  # reported by the assertions below
            results[i] = (None, repr(exc))
        finally:
            connection.close()

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(len(bodies))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    return results


@pytest.fixture
def card_with_100_left(api, customer) -> str:
    """A 150.00 card of which 50.00 was spent earlier: 100.00 left."""
    created = api.post(
        "/giftcards", card_body(customer, amount=150, balanceAmount=150), format="json"
    )
    card_id = created.json()["giftCardUUId"]
    spent = api.post("/payments", {"giftCardUUId": card_id, "amount": "50.00"}, format="json")
    assert spent.status_code == 201, spent.content
    assert GiftCard.objects.get(pk=card_id).balance_cents == 10_000
    return card_id


def test_twenty_parallel_payments_of_ten_spend_exactly_the_hundred_left(
    api_key, card_with_100_left
):
    card_id = card_with_100_left

    results = race(api_key[1], [{"giftCardUUId": card_id, "amount": "10.00"}] * THREADS)

    statuses = Counter(status for status, _ in results)
    assert statuses == {201: 10, 422: 10}, results
    for status, body in results:
        if status == 422:
            assert set(body) & {"amount", "giftCardUUId"}, body
    card = GiftCard.objects.get(pk=card_id)
    assert card.balance_cents == 0
    assert card.status == "redeemed"
    debits = BalanceLog.objects.filter(card_id=card_id, kind="debit")
    assert debits.count() == 11  # the earlier 50.00 and ten of 10.00
    assert sorted({body["paymentId"] for s, body in results if s == 201}) == sorted(
        debits.exclude(amount_cents=-5000).values_list("pk", flat=True)
    )
    total = BalanceLog.objects.filter(card_id=card_id).aggregate(total=Sum("amount_cents"))
    assert total["total"] == card.balance_cents == 0
    last = BalanceLog.objects.filter(card_id=card_id).order_by("created_at", "id").last()
    assert last.balance_after_cents == 0


def test_parallel_retries_with_one_idempotency_key_debit_once(api_key, card_with_100_left):
    """A POS that retries while its first request is still in flight: one debit, and every
    answer is that payment (or a conflict saying the request is in progress)."""
    card_id = card_with_100_left
    body = {"giftCardUUId": card_id, "amount": "100.00"}

    results = race(api_key[1], [body] * 5, headers={"HTTP_IDEMPOTENCY_KEY": "pos-retry-1"})

    assert all(status is not None and status < 500 for status, _ in results), results
    assert BalanceLog.objects.filter(card_id=card_id, kind="debit").count() == 2
    assert GiftCard.objects.get(pk=card_id).balance_cents == 0
    payment_ids = {body["paymentId"] for status, body in results if status == 201}
    assert len(payment_ids) == 1, results
    assert all(status in (201, 409) for status, _ in results), results


def test_parallel_refunds_of_one_payment_refund_it_once(api_key, card_with_100_left):
    card_id = card_with_100_left
    payment_id = BalanceLog.objects.get(card_id=card_id, kind="debit").pk
    barrier = threading.Barrier(5)
    statuses: list = [None] * 5

    def worker(i: int) -> None:
        try:
            client = api_client(api_key[1])
            client.raise_request_exception = False
            barrier.wait(timeout=30)
            statuses[i] = client.delete(f"/payments/{payment_id}").status_code
        finally:
            connection.close()

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(5)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)

    assert Counter(statuses) == {200: 1, 409: 4}, statuses
    assert BalanceLog.objects.filter(card_id=card_id, kind="refund").count() == 1
    assert GiftCard.objects.get(pk=card_id).balance_cents == 15_000
