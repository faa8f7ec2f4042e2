"""Query counts of the plain API's list endpoints: a small bound, the same for 1 and 50 rows."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from clients.services import client_create
from giftcards import services

# Measured: the key (with its business), the object in the URL, the list. One more is allowed
# for the key's last_used_at, written at most once a minute.
MAX_QUERIES = 4
LISTS = ("client cards", "card payments", "clients")


@pytest.fixture
def grow(customer, make_card, tenant, actor):
    """grow(n): n more cards of `customer`, n more payments (every other one refunded) on
    the first card, and n more active clients (counting `customer` in the first call)."""
    state = {"card": None, "clients": 1, "rows": 0}

    def add(n: int) -> dict:
        state["rows"] += n
        for _ in range(n):
            card = make_card(client=customer, balance_cents=10_000)
            state["card"] = state["card"] or card
        for i in range(n):
            debit = services.card_debit(card=state["card"], amount_cents=100, actor=actor)
            if i % 2:
                services.card_refund(payment=debit.entry, actor=actor)
        while state["clients"] < state["rows"]:
            client_create(tenant=tenant, actor=actor, first_name="C", last_name="X")
            state["clients"] += 1
        return {
            "client cards": f"/giftcards/client/{customer.pk}",
            "card payments": f"/payments/giftCard/{state['card'].pk}",
            "clients": "/clients",
        }

    return add


@pytest.mark.parametrize("n", [1, 50])
@pytest.mark.parametrize("which", LISTS)
def test_list_endpoints_cost_a_fixed_number_of_queries(
    api, grow, n, which, django_assert_max_num_queries
):
    url = grow(n)[which]

    with django_assert_max_num_queries(MAX_QUERIES):
        response = api.get(url)

    assert response.status_code == 200
    assert len(response.json()) == n


def test_list_query_counts_are_the_same_for_1_and_50_rows(api, grow):
    urls = grow(1)
    api.get("/clients")  # a key's first call also writes last_used_at
    counts = {}
    for which in LISTS:
        with CaptureQueriesContext(connection) as queries:
            api.get(urls[which])
        counts[which] = [len(queries)]

    grow(49)
    for which in LISTS:
        with CaptureQueriesContext(connection) as queries:
            response = api.get(urls[which])
        assert len(response.json()) == 50
        counts[which].append(len(queries))

    assert all(one == fifty for one, fifty in counts.values()), counts


# ---------------------------------------------------------------------------- writes
# In the test's transaction each service transaction is a SAVEPOINT and its RELEASE, where
# production has BEGIN and COMMIT: the counts include transaction control either way.


@pytest.fixture
def paying_card(api, make_card, customer):
    card = make_card(client=customer, balance_cents=10_000)
    api.get("/clients")  # a key's first call also writes last_used_at
    return card


def statements_after_the_last_release(captured) -> list[str]:
    sql = [query["sql"] for query in captured.captured_queries]
    released = max(i for i, statement in enumerate(sql) if statement.startswith("RELEASE"))
    return sql[released + 1 :]


def test_payment_is_at_most_eight_statements_none_after_the_commit(
    api, paying_card, django_assert_max_num_queries
):
    # The key; then in one transaction the lock, the ledger row, its event (the outbox), the
    # card, its version.
    body = {"giftCardUUId": paying_card.pk, "amount": "1.50"}
    with django_assert_max_num_queries(8) as captured:
        response = api.post("/payments", body, format="json")
    assert response.status_code == 201, response.content
    assert response.json()["balanceAmount"] == 98.5
    assert statements_after_the_last_release(captured) == []
    locks = [q for q in captured.captured_queries if 'FROM "giftcards_giftcard"' in q["sql"]]
    assert len(locks) == 1


def test_payment_with_an_idempotency_key_claims_operates_then_stores(
    api, paying_card, django_assert_max_num_queries
):
    body = {"giftCardUUId": paying_card.pk, "amount": "1.50"}
    # The key; the claim; the payment (as above, plus the ledger's look-up of the key); the
    # stored response.
    with django_assert_max_num_queries(13):
        response = api.post("/payments", body, format="json", HTTP_IDEMPOTENCY_KEY="k-1")
    assert response.status_code == 201
    # The key; the claim refused by the unique key (savepoint, insert, rollback); the record.
    with django_assert_max_num_queries(6):
        again = api.post("/payments", body, format="json", HTTP_IDEMPOTENCY_KEY="k-1")
    assert again.json() == response.json()
    assert again["Idempotent-Replayed"] == "true"


def test_refund_needs_no_query_after_the_commit(api, paying_card, actor):
    payment = services.card_debit(card=paying_card, amount_cents=500, actor=actor).entry
    with CaptureQueriesContext(connection) as captured:
        response = api.delete(f"/payments/{payment.pk}")
    assert response.status_code == 200, response.content
    assert response.json()["refunded"] is True
    assert statements_after_the_last_release(captured) == []
