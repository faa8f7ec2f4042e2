"""`Idempotency-Key` on the writes that move money: a retry moves nothing and gets the first
response again."""

from __future__ import annotations

from datetime import timedelta

from django.utils import timezone

from clients.models import IdempotencyRecord
from giftcards import codes
from giftcards.models import BalanceLog, GiftCard
from tests.giftcards.jsonapi.conftest import resource
from tests.giftcards.jsonapi.helpers import attributes, error, patch_card

KEY = "Idempotency-Key"


def test_replayed_debit_moves_money_once(api, create_card):
    card = create_card(status="active", balance_cents=5_000)
    change = {"_balance_change_cents": -1_000, "_order_reference": "ORD-7"}
    first = patch_card(api, card["id"], change, **{KEY: "debit-1"})
    again = patch_card(api, card["id"], change, **{KEY: "debit-1"})
    assert first.status_code == again.status_code == 200
    assert again["Idempotent-Replayed"] == "true"
    assert again.content == first.content
    assert attributes(api, card["id"])["balance_cents"] == 4_000
    assert BalanceLog.objects.filter(card_id=card["id"], kind="debit").count() == 1


def test_same_key_with_another_body_is_refused(api, create_card):
    card = create_card(status="active", balance_cents=5_000)
    patch_card(api, card["id"], {"_balance_change_cents": -1_000}, **{KEY: "k"})
    response = patch_card(api, card["id"], {"_balance_change_cents": -2_000}, **{KEY: "k"})
    problem = error(response, 422)
    assert (problem["code"], problem["meta"]["error"]) == (
        "VALIDATION_ERROR",
        "idempotency_conflict",
    )
    assert problem["source"] == {"header": KEY}
    assert attributes(api, card["id"])["balance_cents"] == 4_000


def test_a_failed_request_does_not_use_up_its_key(api, create_card):
    card = create_card(status="active", balance_cents=500)
    error(patch_card(api, card["id"], {"_balance_change_cents": -1_000}, **{KEY: "k2"}), 422)
    assert not IdempotencyRecord.objects.exists()
    patch_card(api, card["id"], {"_balance_change_cents": 1_000})
    response = patch_card(api, card["id"], {"_balance_change_cents": -1_000}, **{KEY: "k2"})
    assert response.status_code == 200
    assert attributes(api, card["id"])["balance_cents"] == 500


def test_replayed_create_makes_one_card(api):
    body = resource("gift_cards", {"balance_cents": 2_500, "status": "active"})
    first = api.post("/api/gift_cards", body, **{KEY: "new-card"})
    again = api.post("/api/gift_cards", body, **{KEY: "new-card"})
    assert first.status_code == again.status_code == 201
    assert again.doc["data"]["id"] == first.doc["data"]["id"]
    assert again["Location"] == first["Location"] == first.doc["data"]["links"]["self"]
    assert GiftCard.objects.count() == 1


def test_keys_are_per_api_key(api, other_api):
    body = resource("gift_cards", {"balance_cents": 100})
    first = api.post("/api/gift_cards", body, **{KEY: "shared"})
    second = other_api.post("/api/gift_cards", body, **{KEY: "shared"})
    assert first.doc["data"]["id"] != second.doc["data"]["id"]


def test_invalid_key_is_a_400(api):
    response = api.post(
        "/api/gift_cards", resource("gift_cards", {"balance_cents": 1}), **{KEY: " "}
    )
    assert error(response, 400)["source"] == {"header": KEY}


def test_replayed_adjustment_sets_the_balance_once(api, create_card):
    card = create_card(balance_cents=5_000)
    for _ in range(2):
        response = patch_card(api, card["id"], {"balance_cents": 3_000}, **{KEY: "adj"})
        assert response.status_code == 200
    kinds = [e["kind"] for e in attributes(api, card["id"])["balance_log"]]
    assert kinds == ["issue", "adjustment"]


def test_a_create_whose_response_was_never_stored_is_not_issued_twice(api):
    """The card committed, the process died before the response was stored, and after the
    claim was abandoned the shop retried: the same card, not a second one."""
    body = resource("gift_cards", {"balance_cents": 700})
    first = api.post("/api/gift_cards", body, **{KEY: "order-77"})
    assert first.status_code == 201
    IdempotencyRecord.objects.filter(key="order-77").update(
        status_code=0, response_body="", created_at=timezone.now() - timedelta(minutes=5)
    )
    retry = api.post("/api/gift_cards", body, **{KEY: "order-77"})
    assert retry.status_code == 201, retry.doc
    assert retry.doc["data"]["id"] == first.doc["data"]["id"]
    assert GiftCard.objects.count() == 1


def test_a_record_no_code_key_opens_runs_the_request_again_moving_money_once(
    api, create_card, settings
):
    """A stored record under a key no longer configured cannot be replayed: the retry runs
    as after a lost response, and the ledger's key keeps the money move single."""
    card = create_card(status="active", balance_cents=5_000)
    change = {"_balance_change_cents": -1_000}
    assert patch_card(api, card["id"], change, **{KEY: "debit-9"}).status_code == 200
    current = settings.GIFTCARD_CODE_KEY
    settings.GIFTCARD_CODE_KEY = "a key that is configured no more " * 2
    IdempotencyRecord.objects.update(
        request_hash=codes.encrypt("fingerprint"), response_body=codes.encrypt("{}")
    )
    settings.GIFTCARD_CODE_KEY = current

    again = patch_card(api, card["id"], change, **{KEY: "debit-9"})

    assert again.status_code == 200, again.doc
    assert "Idempotent-Replayed" not in again
    assert again.doc["data"]["attributes"]["balance_cents"] == 4_000
    assert BalanceLog.objects.filter(card_id=card["id"], kind="debit").count() == 1
    replayed = patch_card(api, card["id"], change, **{KEY: "debit-9"})
    assert replayed["Idempotent-Replayed"] == "true"
    assert replayed.content == again.content


def test_stored_records_hold_neither_the_response_nor_the_fingerprint_in_clear(api):
    body = resource("gift_cards", {"balance_cents": 2_500, "code": "CLEAR-NOT-7QXW"})
    first = api.post("/api/gift_cards", body, **{KEY: "new-card"})
    assert first.status_code == 201
    record = IdempotencyRecord.objects.get()
    assert "CLEARNOT7QXW" not in record.response_body.upper().replace("-", "")
    assert "CLEAR-NOT" not in record.response_body
    assert first.doc["data"]["id"] not in record.response_body
    assert codes.decrypt(record.response_body) == first.content.decode()
    assert len(record.request_hash) > 64  # encrypted, not a bare SHA-256
