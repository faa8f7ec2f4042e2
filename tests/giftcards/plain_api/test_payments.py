"""Plain API payments: debits, refunds, the card's payment list and `Idempotency-Key`."""

from __future__ import annotations

import pytest

from clients.models import IdempotencyRecord
from clients.services import api_key_create
from giftcards.models import BalanceLog, GiftCard, Status
from tests.giftcards.plain_api.helpers import api_client, balance, card_body, ledger, snapshot


def pay(api, card_id: str, amount="10", key: str | None = None, **extra):
    headers = {"HTTP_IDEMPOTENCY_KEY": key} if key is not None else {}
    body = {"giftCardUUId": card_id, "amount": amount, **extra}
    return api.post("/payments", body, format="json", **headers)


@pytest.fixture
def card(create_card) -> dict:
    return create_card(amount="100", balanceAmount="100")


def test_payment_debits_the_card_and_returns_the_payment(api, card):
    card_id = card["giftCardUUId"]

    response = pay(api, card_id, amount="30", invoiceId=1234, comment="Lunch")

    assert response.status_code == 201, response.content
    payment = response.json()
    assert isinstance(payment["paymentId"], int)
    assert payment["giftCardUUId"] == card_id
    assert payment["amount"] == 30
    assert payment["balanceAmount"] == 70
    assert payment["invoiceId"] == "1234"
    assert payment["comment"] == "Lunch"
    assert payment["refunded"] is False
    assert payment["createdUser"] == "pos-1"
    assert ledger(card_id) == [("issue", 10_000), ("debit", -3000)]
    entry = BalanceLog.objects.get(pk=payment["paymentId"])
    assert (entry.kind, entry.balance_after_cents, entry.order_reference) == ("debit", 7000, "1234")
    assert balance(card_id) == 7000
    assert api.get(f"/giftcards/{card_id}").json()["balanceAmount"] == 70


@pytest.mark.parametrize("amount", ["25.5", 25.5, "25.50"])
def test_payment_of_a_fractional_amount_is_exact(api, card, amount):
    response = pay(api, card["giftCardUUId"], amount=amount)

    assert response.status_code == 201, response.content
    assert response.json()["amount"] == 25.5
    assert response.json()["balanceAmount"] == 74.5
    assert ledger(card["giftCardUUId"])[-1] == ("debit", -2550)


@pytest.mark.parametrize("amount", ["10.001", 10.001, "0.005"])
def test_payment_with_three_decimals_is_refused_not_rounded(api, card, amount):
    before = snapshot()

    response = pay(api, card["giftCardUUId"], amount=amount)

    assert response.status_code == 400
    assert "amount" in response.json()
    assert snapshot() == before


def test_payment_above_the_balance_is_refused_naming_the_amount(api, card):
    before = snapshot()

    response = pay(api, card["giftCardUUId"], amount="100.01")

    assert response.status_code == 422
    assert "amount" in response.json()
    assert snapshot() == before


def test_payment_date_is_kept(api, card):
    response = pay(api, card["giftCardUUId"], paymentDate=1700000000000)

    assert response.status_code == 201, response.content
    assert response.json()["paymentDate"] == 1700000000000


def test_payment_list_is_newest_first_and_only_that_cards(api, card, create_card):
    other = create_card()
    ids = [pay(api, card["giftCardUUId"], amount=n).json()["paymentId"] for n in (1, 2, 3)]
    pay(api, other["giftCardUUId"], amount=1)

    response = api.get(f"/payments/giftCard/{card['giftCardUUId']}")

    assert response.status_code == 200
    assert [p["paymentId"] for p in response.json()] == ids[::-1]
    assert [p["amount"] for p in response.json()] == [3, 2, 1]


def test_payment_list_of_a_card_without_payments_is_empty(api, card):
    response = api.get(f"/payments/giftCard/{card['giftCardUUId']}")

    assert response.status_code == 200
    assert response.json() == []


# ---------------------------------------------------------------------------- refunds


def test_refund_writes_a_linked_refund_row_and_restores_the_balance(api, card):
    card_id = card["giftCardUUId"]
    payment = pay(api, card_id, amount="40").json()

    response = api.delete(f"/payments/{payment['paymentId']}")

    assert response.status_code == 200, response.content
    assert response.json()["paymentId"] == payment["paymentId"]
    assert response.json()["refunded"] is True
    assert isinstance(response.json()["refundedDate"], int)
    assert ledger(card_id) == [("issue", 10_000), ("debit", -4000), ("refund", 4000)]
    refund = BalanceLog.objects.get(card_id=card_id, kind="refund")
    assert refund.refund_of_id == payment["paymentId"]
    assert refund.balance_after_cents == 10_000
    assert balance(card_id) == 10_000
    listed = api.get(f"/payments/giftCard/{card_id}").json()
    assert [(p["paymentId"], p["refunded"]) for p in listed] == [(payment["paymentId"], True)]


def test_refund_makes_a_redeemed_card_active_again(api, card):
    card_id = card["giftCardUUId"]
    payment = pay(api, card_id, amount="100").json()
    assert GiftCard.objects.get(pk=card_id).status == Status.REDEEMED
    assert pay(api, card_id, amount="1").status_code == 422

    response = api.delete(f"/payments/{payment['paymentId']}")

    assert response.status_code == 200, response.content
    assert GiftCard.objects.get(pk=card_id).status == Status.ACTIVE
    assert pay(api, card_id, amount="1").status_code == 201


def test_refunding_twice_is_a_conflict_and_moves_nothing(api, card):
    payment = pay(api, card["giftCardUUId"], amount="40").json()
    assert api.delete(f"/payments/{payment['paymentId']}").status_code == 200
    before = snapshot()

    response = api.delete(f"/payments/{payment['paymentId']}")

    assert response.status_code == 409
    assert "detail" in response.json()
    assert snapshot() == before
    assert BalanceLog.objects.filter(kind="refund").count() == 1


def test_refund_of_an_unknown_payment_is_404(api, card):
    assert api.delete("/payments/999999").status_code == 404


def test_a_refund_row_is_not_a_payment(api, card):
    payment = pay(api, card["giftCardUUId"], amount="40").json()
    api.delete(f"/payments/{payment['paymentId']}")
    refund_id = BalanceLog.objects.get(kind="refund").pk
    issue_id = BalanceLog.objects.get(kind="issue").pk
    before = snapshot()

    assert api.delete(f"/payments/{refund_id}").status_code == 404
    assert api.delete(f"/payments/{issue_id}").status_code == 404
    assert snapshot() == before


# ---------------------------------------------------------------------------- idempotency


def test_replayed_payment_returns_the_first_response_and_debits_once(api, card):
    card_id = card["giftCardUUId"]

    first = pay(api, card_id, amount="10", key="order-77")
    second = pay(api, card_id, amount="10", key="order-77")

    assert first.status_code == second.status_code == 201
    assert second.json() == first.json()
    assert second.json()["paymentId"] == first.json()["paymentId"]
    assert second.headers.get("Idempotent-Replayed") == "true"
    assert first.headers.get("Idempotent-Replayed") is None
    assert ledger(card_id) == [("issue", 10_000), ("debit", -1000)]
    assert balance(card_id) == 9000


def test_replay_ignores_key_order_and_whitespace_of_the_same_body(api, card):
    card_id = card["giftCardUUId"]
    first = pay(api, card_id, amount="10", key="k-1")

    same_body = f'{{ "amount": "10",   "giftCardUUId": "{card_id}" }}'
    second = api.post(
        "/payments", same_body, content_type="application/json", HTTP_IDEMPOTENCY_KEY="k-1"
    )

    assert second.status_code == 201
    assert second.json()["paymentId"] == first.json()["paymentId"]
    assert balance(card_id) == 9000


def test_same_key_with_a_different_body_is_refused_and_moves_nothing(api, card):
    pay(api, card["giftCardUUId"], amount="10", key="order-78")
    before = snapshot()

    response = pay(api, card["giftCardUUId"], amount="11", key="order-78")

    assert response.status_code == 422
    assert "Idempotency-Key" in response.json()
    assert snapshot() == before


def test_a_request_that_failed_validation_does_not_use_up_its_key(api, card):
    card_id = card["giftCardUUId"]
    failed = pay(api, card_id, amount="10.001", key="order-79")
    assert failed.status_code == 400
    assert not IdempotencyRecord.objects.filter(key="order-79").exists()

    fixed = pay(api, card_id, amount="10", key="order-79")

    assert fixed.status_code == 201, fixed.content
    assert fixed.headers.get("Idempotent-Replayed") is None
    assert ledger(card_id) == [("issue", 10_000), ("debit", -1000)]


def test_a_refused_payment_does_not_use_up_its_key(api, card):
    card_id = card["giftCardUUId"]
    assert pay(api, card_id, amount="500", key="order-80").status_code == 422

    retry = pay(api, card_id, amount="50", key="order-80")

    assert retry.status_code == 201, retry.content
    assert balance(card_id) == 5000


def test_idempotency_keys_belong_to_one_api_key(api, card, business):
    second_pos = api_client(api_key_create(business=business, name="pos-2")[1])
    first = pay(api, card["giftCardUUId"], amount="10", key="shared")

    second = pay(second_pos, card["giftCardUUId"], amount="10", key="shared")

    assert second.status_code == 201
    assert second.json()["paymentId"] != first.json()["paymentId"]
    assert balance(card["giftCardUUId"]) == 8000


@pytest.mark.parametrize("key", ["", " ", "x" * 256])
def test_a_malformed_idempotency_key_is_refused(api, card, key):
    before = snapshot()

    response = pay(api, card["giftCardUUId"], key=key)

    assert response.status_code == 400
    assert "Idempotency-Key" in response.json()
    assert snapshot() == before


def test_replayed_card_creation_creates_one_card(api, customer):
    body = card_body(customer)
    headers = {"HTTP_IDEMPOTENCY_KEY": "new-card-1"}

    first = api.post("/giftcards", body, format="json", **headers)
    second = api.post("/giftcards", body, format="json", **headers)

    assert first.status_code == second.status_code == 201
    assert second.json()["giftCardUUId"] == first.json()["giftCardUUId"]
    assert second.headers.get("Idempotent-Replayed") == "true"
    assert GiftCard.objects.count() == 1
    assert BalanceLog.objects.count() == 1


@pytest.mark.parametrize("moment", [1700000000000, 1079919129416, 2193528273693])
def test_payment_date_round_trips_to_the_millisecond(api, card, moment):
    response = pay(api, card["giftCardUUId"], paymentDate=moment)

    assert response.status_code == 201, response.content
    assert response.json()["paymentDate"] == moment
    listed = api.get(f"/payments/giftCard/{card['giftCardUUId']}").json()
    assert listed[0]["paymentDate"] == moment


def test_a_retried_refund_replays_its_first_response(api, card):
    card_id = card["giftCardUUId"]
    payment_id = pay(api, card_id, amount="30").json()["paymentId"]
    headers = {"HTTP_IDEMPOTENCY_KEY": "refund-1"}

    first = api.delete(f"/payments/{payment_id}", **headers)
    retry = api.delete(f"/payments/{payment_id}", **headers)

    assert first.status_code == retry.status_code == 200, retry.content
    assert retry.json() == first.json()
    assert retry.headers.get("Idempotent-Replayed") == "true"
    assert [kind for kind, _ in ledger(card_id)] == ["issue", "debit", "refund"]
    assert balance(card_id) == 10_000


@pytest.mark.parametrize(
    ("first_amount", "retry_amount", "retry_path"),
    [(1, 1.0, "/payments"), ("10", "10", "/payments/"), (10, 1e1, "/payments")],
)
def test_a_retry_written_differently_but_meaning_the_same_replays(
    api, card, first_amount, retry_amount, retry_path
):
    card_id = card["giftCardUUId"]
    first = pay(api, card_id, amount=first_amount, key="same-meaning")

    retry = api.post(
        retry_path,
        {"giftCardUUId": card_id, "amount": retry_amount},
        format="json",
        HTTP_IDEMPOTENCY_KEY="same-meaning",
    )

    assert retry.status_code == 201, retry.content
    assert retry.json()["paymentId"] == first.json()["paymentId"]
    assert len(ledger(card_id)) == 2


def test_a_payment_beyond_the_balance_says_so_in_major_units(api, card):
    response = pay(api, card["giftCardUUId"], amount="100.01")

    assert response.status_code == 422
    message = " ".join(response.json()["amount"])
    assert "$100.00" in message and "$100.01" in message, message
    assert "cents" not in message


def test_paying_with_a_used_up_card_names_the_amount_and_the_empty_balance(api, card):
    card_id = card["giftCardUUId"]
    assert pay(api, card_id, amount="100").status_code == 201
    before = snapshot()

    response = pay(api, card_id, amount="1")

    assert response.status_code == 422
    body = response.json()
    assert list(body) == ["amount", "errors"], body
    assert "$0.00" in " ".join(body["amount"])
    assert [(e["field"], e["code"]) for e in body["errors"]] == [("amount", "card_not_active")]
    assert snapshot() == before
