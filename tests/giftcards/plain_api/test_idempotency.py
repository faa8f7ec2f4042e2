"""Idempotency-Key's story (giftcards/idempotency.py) through POST /payments: claim,
operate, store; a retry meets the claim, and the ledger's key keeps the money move single."""

from __future__ import annotations

import importlib
import json
from datetime import timedelta

import pytest
from django.apps import apps
from django.test import RequestFactory
from django.utils import timezone

from clients.models import IdempotencyRecord
from giftcards import codes
from giftcards.idempotency import _fingerprint
from giftcards.models import BalanceLog, GiftCard
from tests.giftcards.plain_api.helpers import balance, card_body, ledger


@pytest.fixture
def card(create_card) -> dict:
    return create_card(amount="100", balanceAmount="100")


def pay(api, card_id, key="till-7", amount="10"):
    body = {"giftCardUUId": card_id, "amount": amount}
    return api.post("/payments", body, format="json", HTTP_IDEMPOTENCY_KEY=key)


def pending_claim(api_key, card_id, age=timedelta(0), amount="10") -> None:
    """The claim a request with this body left while running (or when it died)."""
    body = {"giftCardUUId": card_id, "amount": amount}
    request = RequestFactory().post("/payments", json.dumps(body), content_type="application/json")
    IdempotencyRecord.objects.create(
        api_key=api_key[0],
        key="till-7",
        request_hash=codes.encrypt(_fingerprint(request)),
        status_code=0,
        response_body="",
    )
    IdempotencyRecord.objects.filter(key="till-7").update(created_at=timezone.now() - age)


def debits(card_id) -> int:
    return BalanceLog.objects.filter(card_id=card_id, kind="debit").count()


def test_a_retry_while_the_first_request_runs_is_a_409_and_moves_nothing(api, api_key, card):
    pending_claim(api_key, card["giftCardUUId"])
    response = pay(api, card["giftCardUUId"])
    assert response.status_code == 409, response.content
    assert "still being processed" in response.json()["Idempotency-Key"][0]
    assert balance(card["giftCardUUId"]) == 10_000


def test_a_claim_left_by_a_request_that_died_after_paying_replays_the_payment(api, card):
    """The payment committed, then the process died before storing the response."""
    first = pay(api, card["giftCardUUId"])
    assert first.status_code == 201
    IdempotencyRecord.objects.filter(key="till-7").update(
        status_code=0, response_body="", created_at=timezone.now() - timedelta(minutes=5)
    )

    retry = pay(api, card["giftCardUUId"])

    assert retry.status_code == 201, retry.content
    assert retry.json()["paymentId"] == first.json()["paymentId"]
    assert debits(card["giftCardUUId"]) == 1
    assert balance(card["giftCardUUId"]) == 9_000
    stored = IdempotencyRecord.objects.get(key="till-7")
    assert stored.status_code == 201
    assert pay(api, card["giftCardUUId"])["Idempotent-Replayed"] == "true"


def test_a_claim_left_by_a_request_that_died_before_paying_pays_once(api, api_key, card):
    pending_claim(api_key, card["giftCardUUId"], age=timedelta(minutes=5))
    retry = pay(api, card["giftCardUUId"])
    assert retry.status_code == 201, retry.content
    assert debits(card["giftCardUUId"]) == 1
    assert pay(api, card["giftCardUUId"]).json() == retry.json()
    assert debits(card["giftCardUUId"]) == 1


def test_a_claim_of_another_request_is_a_conflict_even_when_abandoned(api, api_key, card):
    pending_claim(api_key, card["giftCardUUId"], age=timedelta(minutes=5), amount="20")
    assert pay(api, card["giftCardUUId"]).status_code == 422
    assert balance(card["giftCardUUId"]) == 10_000


def test_a_refused_payment_releases_its_claim(api, card):
    assert pay(api, card["giftCardUUId"], amount="1000").status_code == 422
    assert not IdempotencyRecord.objects.exists()
    assert pay(api, card["giftCardUUId"], amount="10").status_code == 201


def test_a_create_whose_response_was_never_stored_is_not_issued_twice(api, customer):
    """The card committed, the process died before the response was stored, and after the
    claim was abandoned the till retried."""
    body = card_body(customer, amount="50", balanceAmount="40")
    headers = {"HTTP_IDEMPOTENCY_KEY": "new-card-9"}
    first = api.post("/giftcards", body, format="json", **headers)
    assert first.status_code == 201, first.content
    card_id = first.json()["giftCardUUId"]
    assert pay(api, card_id, key="other").status_code == 201  # the card was used since
    IdempotencyRecord.objects.filter(key="new-card-9").update(
        status_code=0, response_body="", created_at=timezone.now() - timedelta(minutes=5)
    )

    retry = api.post("/giftcards", body, format="json", **headers)

    assert retry.status_code == 201, retry.content
    assert retry.json()["giftCardUUId"] == card_id
    assert GiftCard.objects.filter(client=customer).count() == 1
    assert balance(card_id) == 3_000  # no adjustment back to the opening balance


def test_a_refund_whose_response_was_never_stored_replays_the_refund(api, card):
    """The refund committed, the process died before the response was stored, and after the
    claim was abandoned the till retried: it gets the refund, not a 409 'already refunded'."""
    payment_id = pay(api, card["giftCardUUId"], key="sale-1").json()["paymentId"]
    headers = {"HTTP_IDEMPOTENCY_KEY": "refund-1"}
    first = api.delete(f"/payments/{payment_id}", **headers)
    assert first.status_code == 200, first.content
    IdempotencyRecord.objects.filter(key="refund-1").update(
        status_code=0, response_body="", created_at=timezone.now() - timedelta(minutes=5)
    )

    retry = api.delete(f"/payments/{payment_id}", **headers)

    assert retry.status_code == 200, retry.content
    assert retry.json() == first.json()
    assert BalanceLog.objects.filter(refund_of_id=payment_id).count() == 1
    assert balance(card["giftCardUUId"]) == 10_000


def test_records_stored_in_clear_are_encrypted_by_the_migration_and_still_replay(api, card):
    first = pay(api, card["giftCardUUId"])
    record = IdempotencyRecord.objects.get(key="till-7")
    clear = {
        "request_hash": codes.decrypt(record.request_hash),
        "response_body": codes.decrypt(record.response_body),
    }
    IdempotencyRecord.objects.filter(pk=record.pk).update(**clear)  # as stored in clear
    migration = importlib.import_module("clients.migrations.0005_idempotency_encrypted")

    migration.encrypt(apps, None)

    record.refresh_from_db()
    assert record.response_body != clear["response_body"]
    assert codes.decrypt(record.response_body) == clear["response_body"]
    assert codes.decrypt(record.request_hash) == clear["request_hash"]
    again = pay(api, card["giftCardUUId"])
    assert again["Idempotent-Replayed"] == "true"
    assert again.content == first.content
    migration.decrypt(apps, None)
    record.refresh_from_db()
    assert (record.request_hash, record.response_body) == tuple(clear.values())


def test_a_balance_update_whose_response_was_never_stored_does_not_undo_later_payments(api, card):
    """The update committed, the process died before its response was stored, the card was
    paid with since, and after the claim was abandoned the client retried the update."""
    headers = {"HTTP_IDEMPOTENCY_KEY": "update-1"}
    first = api.post("/giftcards", {**card, "balanceAmount": "80"}, format="json", **headers)
    assert first.status_code == 200, first.content
    assert pay(api, card["giftCardUUId"], key="sale-1", amount="30").status_code == 201
    IdempotencyRecord.objects.filter(key="update-1").update(
        status_code=0, response_body="", created_at=timezone.now() - timedelta(minutes=5)
    )

    retry = api.post("/giftcards", {**card, "balanceAmount": "80"}, format="json", **headers)

    assert retry.status_code == 200, retry.content
    assert balance(card["giftCardUUId"]) == 5_000  # 100 set to 80, then paid 30
    kinds = [kind for kind, _ in ledger(card["giftCardUUId"])]
    assert kinds == ["issue", "adjustment", "debit"]
