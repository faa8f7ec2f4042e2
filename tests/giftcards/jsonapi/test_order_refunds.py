"""JSON:API refunds: a positive `_balance_change_cents` filed under an order that spent on the
card gives that order's money back (a `refund`, not a recharge), never more than it spent."""

from __future__ import annotations

import json

import pytest
from django.test import Client

from giftcards.models import BalanceLog, GiftCard
from tests.giftcards.jsonapi.helpers import attributes, error, patch_card, snapshot


def change(api, card_id, cents, order=None, **headers):
    body = {"_balance_change_cents": cents}
    if order is not None:
        body["_order_reference"] = order
    return patch_card(api, card_id, body, **headers)


@pytest.fixture
def plain(api_key):
    client = Client(headers={"Authorization": f"Bearer {api_key[1]}"})

    def get(path):
        response = client.get(path)
        assert response.status_code == 200, response.content
        return json.loads(response.content)

    return get


def test_part_of_an_order_is_refunded_on_a_card_that_cannot_be_recharged(api, create_card):
    card = create_card(status="active", balance_cents=5_000, rechargeable=False)
    assert change(api, card["id"], -1_000, "ORD-1").status_code == 200
    assert change(api, card["id"], 500).status_code == 422  # a recharge: refused

    response = change(api, card["id"], 400, "ORD-1")

    assert response.status_code == 200, response.doc
    attrs = response.doc["data"]["attributes"]
    assert attrs["balance_cents"] == 4_400
    assert [(e["action"], e["amount_cents"]) for e in attrs["usage_log"]["ORD-1"]] == [
        ("use", -1_000),
        ("refund", 400),
    ]
    assert attrs["balance_log"][-1]["kind"] == "refund"
    refund = BalanceLog.objects.get(card_id=card["id"], kind="refund")
    debit = BalanceLog.objects.get(card_id=card["id"], kind="debit")
    assert refund.refund_of_id == debit.pk


def test_the_rest_of_a_single_use_cards_only_use_makes_it_active_again(api, create_card):
    card = create_card(status="active", balance_cents=5_000, single_use=True)
    assert change(api, card["id"], -3_000, "ORD-1").status_code == 200
    assert attributes(api, card["id"])["status"] == "redeemed"
    assert change(api, card["id"], 1_000).status_code == 422  # no recharge of a used card
    assert change(api, card["id"], 1_000, "ORD-1").status_code == 200

    response = change(api, card["id"], 2_000, "ORD-1")

    assert response.status_code == 200, response.doc
    attrs = response.doc["data"]["attributes"]
    assert (attrs["status"], attrs["balance_cents"]) == ("active", 5_000)


def test_refunding_more_than_the_order_spent_is_a_422_that_writes_nothing(api, create_card):
    card = create_card(status="active", balance_cents=5_000)
    change(api, card["id"], -1_000, "ORD-1")
    change(api, card["id"], 300, "ORD-1")
    before = snapshot(api, card["id"])

    response = change(api, card["id"], 701, "ORD-1")

    found = error(response, 422)
    assert found["source"] == {"pointer": "/data/attributes/_balance_change_cents"}
    assert "$10.00" in found["detail"] and "$7.00" in found["detail"], found
    assert snapshot(api, card["id"]) == before


def test_a_refund_spreads_over_the_orders_debits_newest_first(api, create_card):
    card = create_card(status="active", balance_cents=5_000)
    change(api, card["id"], -1_000, "ORD-1")
    change(api, card["id"], -500, "ORD-2")  # another order: never touched
    change(api, card["id"], -800, "ORD-1")

    response = change(api, card["id"], 1_200, "ORD-1")

    assert response.status_code == 200, response.doc
    refunds = BalanceLog.objects.filter(card_id=card["id"], kind="refund").order_by("id")
    parts = [(r.refund_of.amount_cents, r.amount_cents) for r in refunds]
    assert parts == [(-800, 800), (-1_000, 400)]
    assert change(api, card["id"], 601, "ORD-1").status_code == 422
    assert change(api, card["id"], 600, "ORD-1").status_code == 200
    assert response.doc["data"]["attributes"]["usage_log"]["ORD-2"] == [
        entry
        for entry in attributes(api, card["id"])["usage_log"]["ORD-2"]
        if entry["action"] == "use"
    ]


def test_a_positive_change_under_an_order_that_spent_nothing_here_is_a_recharge(api, create_card):
    card = create_card(status="active", balance_cents=5_000)
    other = create_card(status="active", balance_cents=5_000)
    change(api, other["id"], -1_000, "ORD-1")  # the order spent on another card

    response = change(api, card["id"], 500, "ORD-1")

    assert response.status_code == 200, response.doc
    assert response.doc["data"]["attributes"]["usage_log"]["ORD-1"][0]["action"] == "recharge"


def test_a_refund_of_a_deleted_card_is_not_found(api, create_card):
    card = create_card(status="active", balance_cents=5_000)
    change(api, card["id"], -1_000, "ORD-1")
    api.delete(f"/api/gift_cards/{card['id']}")

    assert change(api, card["id"], 100, "ORD-1").status_code == 404


def test_a_refund_is_allowed_on_an_inactive_card(api, create_card):
    card = create_card(status="active", balance_cents=5_000)
    change(api, card["id"], -1_000, "ORD-1")
    assert patch_card(api, card["id"], {"_deactivate": True}).status_code == 200

    response = change(api, card["id"], 1_000, "ORD-1")

    assert response.status_code == 200, response.doc
    attrs = response.doc["data"]["attributes"]
    assert (attrs["status"], attrs["balance_cents"]) == ("inactive", 5_000)


def test_a_retried_refund_replays_once_even_when_spread(api, create_card):
    card = create_card(status="active", balance_cents=5_000)
    change(api, card["id"], -1_000, "ORD-1")
    change(api, card["id"], -800, "ORD-1")
    key = {"Idempotency-Key": "refund-ord-1"}

    first = change(api, card["id"], 1_200, "ORD-1", **key)
    assert first.status_code == 200, first.doc
    from clients.models import IdempotencyRecord

    IdempotencyRecord.objects.all().delete()  # only the ledger's key is left to catch it
    retry = change(api, card["id"], 1_200, "ORD-1", **key)

    assert retry.status_code == 200, retry.doc
    assert GiftCard.objects.get(pk=card["id"]).balance_cents == 3_200 + 1_200
    assert BalanceLog.objects.filter(card_id=card["id"], kind="refund").count() == 2
    other = change(api, card["id"], 100, "ORD-1", **key)
    assert other.status_code in (409, 422), other.doc


def test_usage_log_and_the_plain_apis_payment_list_agree(api, plain, create_card):
    card = create_card(status="active", balance_cents=5_000)
    change(api, card["id"], -1_000, "ORD-1")
    change(api, card["id"], -800, "ORD-1")
    change(api, card["id"], 1_200, "ORD-1")

    usage = attributes(api, card["id"])["usage_log"]["ORD-1"]
    payments = plain(f"/payments/giftCard/{card['id']}")

    used = sorted(-e["amount_cents"] for e in usage if e["action"] == "use")
    refunded = sum(e["amount_cents"] for e in usage if e["action"] == "refund")
    assert sorted(int(p["amount"] * 100) for p in payments) == used
    assert sum(round(p["refundedAmount"] * 100) for p in payments) == refunded == 1_200
    assert {p["invoiceId"] for p in payments} == {"ORD-1"}
    by_amount = {p["amount"]: p for p in payments}
    assert by_amount[8]["refunded"] is True and by_amount[10]["refundedAmount"] == 4


def test_an_order_refunded_in_full_is_a_conflict_as_in_the_plain_api(api, create_card):
    card = create_card(status="active", balance_cents=5_000)
    change(api, card["id"], -1_000, "ORD-1")
    change(api, card["id"], 1_000, "ORD-1")
    before = snapshot(api, card["id"])

    found = error(change(api, card["id"], 1, "ORD-1"), 409)

    assert "refunded in full" in found["detail"]
    assert found["source"] == {"pointer": "/data/attributes/_balance_change_cents"}
    assert snapshot(api, card["id"]) == before
