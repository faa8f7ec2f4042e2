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


# ---------------------------------------------------------------------------- seams


def test_a_card_made_here_round_trips_through_the_plain_api(api, plain, create_card):
    card = create_card(status="active", balance_cents=5_000)
    before = attributes(api, card["id"])
    status, shown = plain("get", f"/giftcards/{card['id']}")
    assert status == 200
    assert shown["clientId"] is None

    status, echoed = plain("post", "/giftcards", shown)

    assert status == 200, echoed
    assert {k: v for k, v in echoed.items() if k not in ("modifiedDate",)} == {
        k: v for k, v in shown.items() if k not in ("modifiedDate",)
    }
    after = attributes(api, card["id"])
    assert after["balance_log"] == before["balance_log"]
    assert after["status"] == before["status"] == "active"


def test_a_draft_made_here_round_trips_and_stays_a_draft(api, plain, create_card):
    card = create_card()
    _, shown = plain("get", f"/giftcards/{card['id']}")

    status, echoed = plain("post", "/giftcards", shown)

    assert status == 200, echoed
    assert attributes(api, card["id"])["status"] == "draft"


def test_a_card_made_here_can_be_linked_to_a_client_there(api, plain, create_card, customer):
    card = create_card(status="active")
    _, shown = plain("get", f"/giftcards/{card['id']}")

    status, linked = plain("post", "/giftcards", {**shown, "clientId": customer.pk})

    assert status == 200, linked
    assert linked["clientId"] == customer.pk
    status, listed = plain("get", f"/giftcards/client/{customer.pk}")
    assert [c["giftCardUUId"] for c in listed] == [card["id"]]
    # Once linked, a null is not taken as "no change".
    status, body = plain("post", "/giftcards", {**linked, "clientId": None})
    assert status == 400
    assert str(customer.pk) in body["clientId"][0]


def test_a_new_card_still_needs_a_client_there(plain, business):
    status, body = plain(
        "post",
        "/giftcards",
        {
            "active": True,
            "amount": "25",
            "balanceAmount": "25",
            "businessId": business.pk,
            "clientId": None,
            "purchaseDate": 1681963200000,
            "status": "Active",
        },
    )
    assert status == 400
    assert body["clientId"] == ["This field may not be null."]


@pytest.mark.parametrize(
    ("make", "words", "not_words"),
    [
        ({}, "not been activated", "draft"),
        ({"status": "inactive"}, "deactivated", "inactive"),
    ],
)
def test_a_payment_refused_for_a_status_says_it_in_the_plain_apis_words(
    plain, create_card, make, words, not_words
):
    card = create_card(**make)

    status, body = plain("post", "/payments", {"giftCardUUId": card["id"], "amount": 1})

    assert status == 422, body
    message = " ".join(next(iter(body.values())))
    assert words in message and not_words not in message, message


def test_a_used_up_card_is_described_there_without_the_word_redeemed(plain, create_card):
    card = create_card(status="active", balance_cents=1_000)
    plain("post", "/payments", {"giftCardUUId": card["id"], "amount": 10})

    status, body = plain("post", "/payments", {"giftCardUUId": card["id"], "amount": 1})

    assert status == 422, body
    message = " ".join(body["amount"])
    assert "used up" in message and "$0.00" in message and "redeemed" not in message, message


def test_a_used_single_use_card_is_described_there_without_the_word_redeemed(plain, create_card):
    card = create_card(status="active", balance_cents=1_000, single_use=True)
    plain("post", "/payments", {"giftCardUUId": card["id"], "amount": 1})

    status, body = plain("post", "/payments", {"giftCardUUId": card["id"], "amount": 1})

    assert status == 422, body
    message = " ".join(next(iter(body.values())))
    assert "single-use" in message and "redeemed" not in message, message


def test_the_same_refusal_here_names_the_status_in_this_apis_words(api, create_card):
    card = create_card(status="inactive")

    response = patch_card(api, card["id"], {"_balance_change_cents": -100})

    assert response.status_code == 422
    assert "inactive" in response.doc["errors"][0]["detail"]
