"""Plain API refunds: part of a payment (`POST /payments/{id}/refunds`), what remains of it
(`DELETE /payments/{id}`), never more than it in total, and the payment list that shows them."""

from __future__ import annotations

import pytest

from giftcards import services
from giftcards.models import BalanceLog, GiftCard, Status
from tests.giftcards.plain_api.helpers import balance, ledger, snapshot


@pytest.fixture
def card(create_card) -> dict:
    return create_card(amount="100", balanceAmount="100")


@pytest.fixture
def payment(api, card) -> dict:
    """A payment of 8.00 with the card."""
    response = api.post(
        "/payments",
        {"giftCardUUId": card["giftCardUUId"], "amount": "8", "invoiceId": "INV-35"},
        format="json",
    )
    assert response.status_code == 201, response.content
    return response.json()


def refund(api, payment_id, amount, key=None, **extra):
    headers = {"HTTP_IDEMPOTENCY_KEY": key} if key else {}
    body = {"amount": amount, **extra}
    return api.post(f"/payments/{payment_id}/refunds", body, format="json", **headers)


def test_a_partial_refund_gives_back_that_much_and_says_so(api, card, payment):
    response = refund(api, payment["paymentId"], "3", comment="One item returned")

    assert response.status_code == 201, response.content
    body = response.json()
    assert set(body) == {
        "refundId",
        "paymentId",
        "giftCardUUId",
        "amount",
        "balanceAmount",
        "refundDate",
        "comment",
        "createdUser",
    }
    assert body["paymentId"] == payment["paymentId"]
    assert body["giftCardUUId"] == card["giftCardUUId"]
    assert (body["amount"], body["balanceAmount"]) == (3, 95)
    assert body["comment"] == "One item returned"
    assert body["createdUser"] == "pos-1"
    assert isinstance(body["refundDate"], int)
    row = BalanceLog.objects.get(pk=body["refundId"])
    assert (row.kind, row.amount_cents, row.refund_of_id) == ("refund", 300, payment["paymentId"])
    assert row.order_reference == "INV-35"  # filed under the payment's invoice
    assert balance(card["giftCardUUId"]) == 9_500


def test_two_partial_refunds_then_delete_refund_exactly_the_payment(api, card, payment):
    payment_id = payment["paymentId"]
    assert refund(api, payment_id, "3").status_code == 201
    assert refund(api, payment_id, "2.50").status_code == 201

    response = api.delete(f"/payments/{payment_id}")

    assert response.status_code == 200, response.content
    body = response.json()
    assert body["refunded"] is True
    assert body["refundedAmount"] == 8
    assert [r["amount"] for r in body["refunds"]] == [3, 2.5, 2.5]
    assert ledger(card["giftCardUUId"])[1:] == [
        ("debit", -800),
        ("refund", 300),
        ("refund", 250),
        ("refund", 250),
    ]
    assert balance(card["giftCardUUId"]) == 10_000

    before = snapshot()
    third = refund(api, payment_id, "0.01")
    assert third.status_code == 409, third.content
    assert "refunded" in third.json()["detail"]
    again = api.delete(f"/payments/{payment_id}")
    assert again.status_code == 409
    assert snapshot() == before


def test_a_refund_above_what_remains_is_refused_saying_how_much_remains(api, card, payment):
    assert refund(api, payment["paymentId"], "5").status_code == 201
    before = snapshot()

    response = refund(api, payment["paymentId"], "3.01")

    assert response.status_code == 422, response.content
    message = " ".join(response.json()["amount"])
    assert "$3.00" in message and "$8.00" in message and "$3.01" in message, message
    assert snapshot() == before


def test_delete_with_an_amount_is_refused_pointing_to_the_refunds_call(api, card, payment):
    before = snapshot()

    response = api.delete(f"/payments/{payment['paymentId']}", {"amount": 3}, format="json")

    assert response.status_code == 400, response.content
    message = " ".join(response.json()["amount"])
    assert f"/payments/{payment['paymentId']}/refunds" in message
    assert snapshot() == before


def test_delete_with_any_other_body_is_refused_too(api, card, payment):
    before = snapshot()

    response = api.delete(f"/payments/{payment['paymentId']}", {"comment": "x"}, format="json")

    assert response.status_code == 400, response.content
    assert "/refunds" in response.json()["detail"][0]
    assert snapshot() == before


def test_delete_with_an_empty_body_refunds_the_rest(api, card, payment):
    response = api.delete(f"/payments/{payment['paymentId']}", {}, format="json")

    assert response.status_code == 200, response.content
    assert response.json()["refundedAmount"] == 8


def test_the_payment_list_shows_each_payments_refunds(api, card, payment):
    card_id = card["giftCardUUId"]
    other = api.post("/payments", {"giftCardUUId": card_id, "amount": "1"}, format="json").json()
    refund(api, payment["paymentId"], "3", comment="first")
    refund(api, payment["paymentId"], "1.25")

    listed = api.get(f"/payments/giftCard/{card_id}").json()

    assert [p["paymentId"] for p in listed] == [other["paymentId"], payment["paymentId"]]
    newest, oldest = listed
    assert (newest["refundedAmount"], newest["refunds"], newest["refunded"]) == (0, [], False)
    assert newest["refundedDate"] is None
    assert oldest["refundedAmount"] == 4.25
    assert oldest["refunded"] is False  # 3.75 remain
    assert [(r["amount"], r["comment"]) for r in oldest["refunds"]] == [(3, "first"), (1.25, None)]
    assert oldest["refundedDate"] == oldest["refunds"][-1]["refundDate"]
    listed_refunds = api.get(f"/payments/{payment['paymentId']}/refunds").json()
    assert listed_refunds == oldest["refunds"]


def test_a_refund_makes_a_used_up_card_active_again(api, card):
    card_id = card["giftCardUUId"]
    spent = api.post("/payments", {"giftCardUUId": card_id, "amount": "100"}, format="json")
    assert GiftCard.objects.get(pk=card_id).status == Status.REDEEMED

    response = refund(api, spent.json()["paymentId"], "10")

    assert response.status_code == 201, response.content
    assert GiftCard.objects.get(pk=card_id).status == Status.ACTIVE
    paid = api.post("/payments", {"giftCardUUId": card_id, "amount": "10"}, format="json")
    assert paid.status_code == 201


def test_a_card_that_cannot_be_recharged_can_be_refunded(api, card, payment, tenant, actor):
    services.card_update(card=card["giftCardUUId"], tenant=tenant, actor=actor, rechargeable=False)

    response = refund(api, payment["paymentId"], "8")

    assert response.status_code == 201, response.content
    assert balance(card["giftCardUUId"]) == 10_000


def test_a_refund_to_a_deleted_card_is_refused(api, card, payment):
    assert api.delete(f"/giftcards/{card['giftCardUUId']}").status_code == 200
    before = snapshot()

    response = refund(api, payment["paymentId"], "1")

    assert response.status_code == 422, response.content
    assert snapshot() == before


@pytest.mark.parametrize(
    "body",
    [
        {"amount": "0"},
        {"amount": "-1"},
        {"amount": "1.001"},
        {"amount": "ten"},
        {"amount": True},
        {},
        {"amount": "1", "refundId": 5},
        {"amount": "1", "comment": 7},
    ],
)
def test_bad_refund_bodies_are_400s_naming_the_field(api, payment, body):
    before = snapshot()

    response = api.post(f"/payments/{payment['paymentId']}/refunds", body, format="json")

    assert response.status_code == 400, response.content
    assert set(response.json()) & {"amount", "refundId", "comment"}, response.json()
    assert snapshot() == before


def test_a_refund_of_a_payment_of_another_business_is_404(other_api, payment):
    before = snapshot()

    assert refund(other_api, payment["paymentId"], "1").status_code == 404
    assert other_api.delete(f"/payments/{payment['paymentId']}").status_code == 404
    assert other_api.get(f"/payments/{payment['paymentId']}/refunds").status_code == 404
    assert snapshot() == before


def test_a_refund_of_a_payment_of_the_other_mode_is_404(test_mode_api, payment):
    assert refund(test_mode_api, payment["paymentId"], "1").status_code == 404


@pytest.mark.parametrize("payment_id", ["999999", "abc", "0"])
def test_a_refund_of_no_payment_is_refused(api, payment_id):
    assert refund(api, payment_id, "1").status_code in (400, 404)


def test_a_refund_row_cannot_itself_be_refunded(api, payment):
    refund_id = refund(api, payment["paymentId"], "1").json()["refundId"]

    assert refund(api, refund_id, "1").status_code == 404


def test_a_retried_partial_refund_replays_and_gives_back_once(api, card, payment):
    first = refund(api, payment["paymentId"], "3", key="ret-1")
    retry = refund(api, payment["paymentId"], "3", key="ret-1")

    assert first.status_code == retry.status_code == 201
    assert retry.json() == first.json()
    assert retry.headers.get("Idempotent-Replayed") == "true"
    assert balance(card["giftCardUUId"]) == 9_500


def test_the_same_key_for_another_refund_is_refused(api, card, payment):
    assert refund(api, payment["paymentId"], "3", key="ret-2").status_code == 201
    before = snapshot()

    response = refund(api, payment["paymentId"], "4", key="ret-2")

    assert response.status_code == 422, response.content
    assert snapshot() == before


def test_a_refund_whose_response_was_lost_replays_from_the_ledger(api, card, payment, actor):
    """The ledger's key holds even when the stored response is gone (expired, say)."""
    from clients.models import IdempotencyRecord

    assert refund(api, payment["paymentId"], "3", key="ret-3").status_code == 201
    IdempotencyRecord.objects.all().delete()

    retry = refund(api, payment["paymentId"], "3", key="ret-3")

    assert retry.status_code == 201, retry.content
    assert balance(card["giftCardUUId"]) == 9_500
    assert BalanceLog.objects.filter(kind="refund").count() == 1


def test_a_refund_costs_a_bounded_number_of_queries(api, payment, django_assert_max_num_queries):
    with django_assert_max_num_queries(14):
        assert refund(api, payment["paymentId"], "1").status_code == 201


def test_a_key_conflict_never_shows_the_ledgers_internal_key(api, api_key, card, payment):
    from clients.models import IdempotencyRecord

    assert refund(api, payment["paymentId"], "3", key="k1").status_code == 201
    IdempotencyRecord.objects.all().delete()  # its stored response is gone (after 24 h)

    response = refund(api, payment["paymentId"], "4", key="k1")

    assert response.status_code == 422, response.content
    text = response.content.decode()
    assert "Idempotency-Key" in text
    assert api_key[0].pk not in text and "plain:" not in text, text


@pytest.mark.parametrize("body", ["0", "false", "null", '""', "[]", "[1]", '"3"', "3"])
def test_delete_with_any_body_but_an_empty_object_is_refused(api, card, payment, body):
    before = snapshot()

    response = api.generic(
        "DELETE", f"/payments/{payment['paymentId']}", body, content_type="application/json"
    )

    assert response.status_code == 400, response.content
    assert snapshot() == before


def test_delete_with_an_amount_in_the_query_is_refused(api, card, payment):
    before = snapshot()

    response = api.delete(f"/payments/{payment['paymentId']}?amount=3")

    assert response.status_code == 400, response.content
    assert "/refunds" in response.json()["amount"][0]
    assert snapshot() == before


def test_delete_after_a_part_with_the_same_key_refunds_the_rest_not_the_part_again(
    api, card, payment
):
    """Once the stored response of a part's refund is gone, its key sent with DELETE is a
    new request: the rest is refunded, and the answer says so."""
    from clients.models import IdempotencyRecord

    assert refund(api, payment["paymentId"], "3", key="k1").status_code == 201
    IdempotencyRecord.objects.all().delete()

    response = api.delete(f"/payments/{payment['paymentId']}", HTTP_IDEMPOTENCY_KEY="k1")

    assert response.status_code == 200, response.content
    assert (response.json()["refunded"], response.json()["refundedAmount"]) == (True, 8)
    assert balance(card["giftCardUUId"]) == 10_000
