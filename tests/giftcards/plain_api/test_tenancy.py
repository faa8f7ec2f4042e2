"""Tenancy of the plain API: another business's key, or the test-mode key of the same
business, never sees or touches live rows of business A. URL ids answer 404; body ids 400
naming the field; nothing changes."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from clients.models import Client
from clients.services import client_create
from clients.tenancy import Mode, Tenant
from tests.giftcards.plain_api.helpers import card_body, snapshot


@dataclass(frozen=True)
class World:
    """Business A's live rows, and a client of the caller (so body ids are otherwise valid)."""

    business_id: int
    client_id: int
    card_id: str
    payment_id: int
    caller_business_id: int
    caller_client_id: int


@pytest.fixture
def a_rows(api, customer):
    card = api.post("/giftcards", card_body(customer, amount=100, balanceAmount=100), format="json")
    assert card.status_code == 201, card.content
    card_id = card.json()["giftCardUUId"]
    payment = api.post("/payments", {"giftCardUUId": card_id, "amount": 10}, format="json")
    assert payment.status_code == 201, payment.content
    return customer, card_id, payment.json()["paymentId"]


@pytest.fixture(params=["other business", "test mode of A"])
def caller(request, a_rows, actor):
    """(APIClient, World) for a caller who must not see A's live rows."""
    customer, card_id, payment_id = a_rows
    if request.param == "other business":
        api = request.getfixturevalue("other_api")
        own_client = request.getfixturevalue("other_customer")
    else:
        api = request.getfixturevalue("test_mode_api")
        own_client = client_create(
            tenant=Tenant(business=customer.business, mode=Mode.TEST),
            actor=actor,
            first_name="Test",
            last_name="Client",
        )
    world = World(
        business_id=customer.business_id,
        client_id=customer.pk,
        card_id=card_id,
        payment_id=payment_id,
        caller_business_id=own_client.business_id,
        caller_client_id=own_client.pk,
    )
    return api, world


def card_update_body(w: World) -> dict:
    return {
        "giftCardUUId": w.card_id,
        "active": True,
        "amount": 100,
        "balanceAmount": 0,
        "businessId": w.caller_business_id,
        "clientId": w.caller_client_id,
        "purchaseDate": 1681963200000,
        "status": "Active",
    }


def card_create_body(w: World) -> dict:
    body = card_update_body(w)
    del body["giftCardUUId"]
    return {**body, "balanceAmount": 100, "clientId": w.client_id}


# (method, path, body, expected status, field named in a 400)
CALLS = {
    "GET /giftcards/{id}": lambda w: ("get", f"/giftcards/{w.card_id}", None, 404, None),
    "DELETE /giftcards/{id}": lambda w: ("delete", f"/giftcards/{w.card_id}", None, 404, None),
    "GET /giftcards/client/{id}": lambda w: (
        "get",
        f"/giftcards/client/{w.client_id}",
        None,
        404,
        None,
    ),
    "POST /giftcards update": lambda w: (
        "post",
        "/giftcards",
        card_update_body(w),
        400,
        "giftCardUUId",
    ),
    "POST /giftcards create for A's client": lambda w: (
        "post",
        "/giftcards",
        card_create_body(w),
        400,
        "clientId",
    ),
    "GET /clients/{id}": lambda w: ("get", f"/clients/{w.client_id}", None, 404, None),
    "DELETE /clients/{id}": lambda w: ("delete", f"/clients/{w.client_id}", None, 404, None),
    "POST /clients update": lambda w: (
        "post",
        "/clients",
        {"clientId": w.client_id, "firstName": "Mallory", "lastName": "M"},
        400,
        "clientId",
    ),
    "POST /payments": lambda w: (
        "post",
        "/payments",
        {"giftCardUUId": w.card_id, "amount": 10},
        400,
        "giftCardUUId",
    ),
    "GET /payments/giftCard/{id}": lambda w: (
        "get",
        f"/payments/giftCard/{w.card_id}",
        None,
        404,
        None,
    ),
    "DELETE /payments/{id}": lambda w: ("delete", f"/payments/{w.payment_id}", None, 404, None),
}


@pytest.mark.parametrize("call", CALLS.values(), ids=CALLS.keys())
def test_a_foreign_caller_cannot_reach_business_a_rows(caller, call):
    api, world = caller
    method, path, body, expected, field = call(world)
    before = snapshot()

    if body is None:
        response = getattr(api, method)(path)
    else:
        response = getattr(api, method)(path, body, format="json")

    assert response.status_code == expected, response.content
    if field is not None:
        assert field in response.json()
    assert "Lovelace" not in response.content.decode()  # nothing of A's leaks
    assert snapshot() == before


def test_a_foreign_caller_lists_none_of_business_a_clients(caller):
    api, world = caller

    response = api.get("/clients")

    assert response.status_code == 200
    ids = [c["clientId"] for c in response.json()]
    assert world.client_id not in ids
    assert world.caller_client_id in ids


def test_live_key_does_not_see_test_mode_cards(api, test_mode_api, business, actor):
    test_client = client_create(
        tenant=Tenant(business=business, mode=Mode.TEST), actor=actor, first_name="T"
    )
    created = test_mode_api.post("/giftcards", card_body(test_client), format="json")
    assert created.status_code == 201, created.content
    card_id = created.json()["giftCardUUId"]

    assert api.get(f"/giftcards/{card_id}").status_code == 404
    assert api.get(f"/giftcards/client/{test_client.pk}").status_code == 404
    assert (
        api.post("/payments", {"giftCardUUId": card_id, "amount": 1}, format="json").status_code
        == 400
    )
    assert test_mode_api.get(f"/giftcards/{card_id}").status_code == 200


def test_a_rows_are_unchanged_after_the_whole_matrix(
    a_rows, other_api, test_mode_api, other_customer
):
    customer, card_id, payment_id = a_rows
    before = snapshot()
    for api in (other_api, test_mode_api):
        api.get(f"/giftcards/{card_id}")
        api.delete(f"/giftcards/{card_id}")
        api.delete(f"/clients/{customer.pk}")
        api.delete(f"/payments/{payment_id}")
        api.post("/payments", {"giftCardUUId": card_id, "amount": 90}, format="json")
        api.post(
            "/clients",
            {"clientId": customer.pk, "firstName": "X", "lastName": "Y", "active": False},
            format="json",
        )

    assert snapshot() == before
    assert Client.objects.get(pk=customer.pk).active is True
