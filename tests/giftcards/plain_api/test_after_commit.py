"""A committed money move is never answered with an error: the database may vanish right
after the commit (a terminated backend, a failover) and the response is still the success
the client must not retry."""

from __future__ import annotations

import pytest
from django.db import OperationalError, connection

from giftcards.models import BalanceLog, GiftCard
from tests.giftcards.plain_api.helpers import card_body

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def card(create_card) -> dict:
    return create_card(amount="100", balanceAmount="100")


def keyed(key):
    return {"HTTP_IDEMPOTENCY_KEY": key} if key else {}


@pytest.mark.parametrize("key", [None, "till-7-sale-1"])
def test_a_payment_is_answered_after_the_database_went_away(
    api, card, database_gone_after_commit, key
):
    body = {"giftCardUUId": card["giftCardUUId"], "amount": "30"}
    with connection.execute_wrapper(database_gone_after_commit):
        response = api.post("/payments", body, format="json", **keyed(key))

    assert database_gone_after_commit.gone
    assert response.status_code == 201, response.content
    assert response.json()["balanceAmount"] == 70
    assert GiftCard.objects.get(pk=card["giftCardUUId"]).balance_cents == 7_000


@pytest.mark.parametrize("key", [None, "till-7-refund-1"])
def test_a_refund_is_answered_after_the_database_went_away(
    api, card, database_gone_after_commit, key
):
    paid = api.post(
        "/payments", {"giftCardUUId": card["giftCardUUId"], "amount": "30"}, format="json"
    )
    payment_id = paid.json()["paymentId"]

    with connection.execute_wrapper(database_gone_after_commit):
        response = api.delete(f"/payments/{payment_id}", **keyed(key))

    assert database_gone_after_commit.gone
    assert response.status_code == 200, response.content
    assert BalanceLog.objects.filter(refund_of_id=payment_id).count() == 1


@pytest.mark.parametrize("key", [None, "shop-issue-1"])
def test_an_issue_is_answered_after_the_database_went_away(
    api, customer, database_gone_after_commit, key
):
    with connection.execute_wrapper(database_gone_after_commit):
        response = api.post(
            "/giftcards", card_body(customer, amount="50"), format="json", **keyed(key)
        )

    assert database_gone_after_commit.gone
    assert response.status_code == 201, response.content
    assert GiftCard.objects.filter(pk=response.json()["giftCardUUId"]).exists()


def test_a_balance_write_is_answered_after_the_database_went_away(
    api, card, database_gone_after_commit
):
    with connection.execute_wrapper(database_gone_after_commit):
        response = api.post("/giftcards", {**card, "balanceAmount": "40"}, format="json")

    assert database_gone_after_commit.gone
    assert response.status_code == 200, response.content
    assert response.json()["balanceAmount"] == 40


def test_a_delete_is_answered_after_the_database_went_away(api, card, database_gone_after_commit):
    with connection.execute_wrapper(database_gone_after_commit):
        response = api.delete(f"/giftcards/{card['giftCardUUId']}")

    assert database_gone_after_commit.gone
    assert response.status_code == 200, response.content
    assert response.json()["active"] is False


class ConnectionDiesAtTheLedger:
    """The connection dies as the payment writes its ledger row: that statement and every
    later one on the same connection fail; a new connection works."""

    def __init__(self):
        self.dead = None

    def __call__(self, execute, sql, params, many, context):
        if (
            self.dead is None
            and sql.lstrip().upper().startswith("INSERT")
            and ("giftcards_balancelog" in sql)
        ):
            self.dead = connection.connection
        if self.dead is not None and connection.connection is self.dead:
            raise OperationalError("server closed the connection unexpectedly")
        return execute(sql, params, many, context)


def test_a_key_whose_request_lost_its_connection_can_be_retried_at_once(api, card):
    """Nothing moved, so the till's retry with the same key runs now: the key is not held
    for the minute after which an abandoned claim is taken over."""
    body = {"giftCardUUId": card["giftCardUUId"], "amount": "30"}
    fault = ConnectionDiesAtTheLedger()
    with connection.execute_wrapper(fault):
        lost = api.post("/payments", body, format="json", HTTP_IDEMPOTENCY_KEY="till-7-sale-2")

    assert fault.dead is not None
    assert lost.status_code == 503, lost.content
    retry = api.post("/payments", body, format="json", HTTP_IDEMPOTENCY_KEY="till-7-sale-2")
    assert retry.status_code == 201, retry.content
    assert GiftCard.objects.get(pk=card["giftCardUUId"]).balance_cents == 7_000
