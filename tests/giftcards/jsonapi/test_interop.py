"""One ledger, two APIs: what one API writes, the other reads the same."""

from __future__ import annotations

import json

import pytest
from django.test import Client

from clients.services import client_create
from tests.giftcards.jsonapi.helpers import attributes, card_url, patch_card


@pytest.fixture
def plain(api_key):
    """The plain API (seed 000) with the same key."""
    client = Client(headers={"Authorization": f"Bearer {api_key[1]}"})

    def call(method, path, body=None):
        kwargs = {"content_type": "application/json"}
        if body is not None:
            kwargs["data"] = json.dumps(body)
        response = getattr(client, method)(path, **kwargs)
        return response.status_code, response.json()

    return call


@pytest.fixture
def customer(tenant, actor):
    return client_create(tenant=tenant, actor=actor, first_name="Ann", last_name="Lee")


def test_card_made_by_the_plain_api_reads_the_same_here(api, plain, business, customer):
    seed_body = {
        "active": True,
        "amount": "25",
        "balanceAmount": "25",
        "businessId": business.pk,
        "clientId": customer.pk,
        "purchaseDate": 1681963200000,
        "status": "Active",
    }
    status, card = plain("post", "/giftcards", seed_body)
    assert status == 201, card
    attrs = attributes(api, card["giftCardUUId"])
    assert attrs["status"] == "active"  # the plain API has no draft
    assert attrs["initial_balance_cents"] == attrs["balance_cents"] == 2_500
    assert attrs["formatted_balance"] == "$25.00"
    assert [entry["kind"] for entry in attrs["balance_log"]] == ["issue"]

    status, payment = plain(
        "post", "/payments", {"giftCardUUId": card["giftCardUUId"], "amount": 10, "invoiceId": 77}
    )
    assert status == 201, payment
    attrs = attributes(api, card["giftCardUUId"])
    assert attrs["balance_cents"] == 1_500
    assert attrs["usage_log"]["77"][0]["amount_cents"] == -1_000

    status, _ = plain("delete", f"/payments/{payment['paymentId']}")
    assert status == 200
    attrs = attributes(api, card["giftCardUUId"])
    assert attrs["balance_cents"] == 2_500
    assert [entry["action"] for entry in attrs["usage_log"]["77"]] == ["use", "refund"]


def test_card_made_here_reads_the_same_in_the_plain_api(api, plain, create_card, business):
    card = create_card(status="active", balance_cents=5_000)
    patch_card(api, card["id"], {"_balance_change_cents": -1_000, "_order_reference": "INV-9"})
    status, plain_card = plain("get", f"/giftcards/{card['id']}")
    assert status == 200
    assert plain_card["giftCardUUId"] == card["id"]
    assert (plain_card["amount"], plain_card["balanceAmount"]) == (50, 40)
    assert plain_card["status"] == "Active"
    assert plain_card["businessId"] == business.pk
    status, payments = plain("get", f"/payments/giftCard/{card['id']}")
    assert [(p["amount"], p["invoiceId"]) for p in payments] == [(10, "INV-9")]


def test_card_deleted_here_is_deleted_there(api, plain, create_card):
    card = create_card(status="active")
    assert api.delete(card_url(card["id"])).status_code == 204
    status, plain_card = plain("get", f"/giftcards/{card['id']}")
    assert (status, plain_card["status"], plain_card["active"]) == (200, "Deleted", False)


def test_card_deleted_there_is_gone_here(api, plain, create_card):
    card = create_card(status="active")
    status, _ = plain("delete", f"/giftcards/{card['id']}")
    assert status == 200
    assert api.get(card_url(card["id"])).status_code == 404
