"""Every operation of the plain API's OpenAPI document (/api/schema/plain) answers a real
request with a body of its documented shape, errors included; a route added without its
description fails here."""

from __future__ import annotations

import json

import pytest

from tests.openapi_conformance import Conformance


@pytest.fixture
def document(api) -> dict:
    response = api.get("/api/schema/plain", {"format": "json"})
    assert response.status_code == 200
    return json.loads(response.content)


def test_every_operation_answers_with_its_documented_shape(api, document, create_card):
    conformance = Conformance(document)

    def check(method: str, path: str, url: str, body=None, status: int | None = None, **headers):
        response = getattr(api, method)(url, body, format="json", headers=headers or None)
        if status is not None:
            assert response.status_code == status, (method, url, response.content[:300])
        conformance.check(method, path, response)
        return response

    client = check(
        "post", "/clients", "/clients", {"firstName": "Ada", "lastName": "Lovelace"}, 201
    ).json()
    client_id = client["clientId"]
    check("get", "/clients", "/clients?page=1&pageSize=10", status=200)
    check("get", "/clients/count", "/clients/count", status=200)
    read = check("get", "/clients/{clientId}", f"/clients/{client_id}", status=200)
    check(
        "get",
        "/clients/{clientId}",
        f"/clients/{client_id}",
        status=304,
        **{"If-None-Match": read["ETag"]},
    )
    card = create_card()
    card_id = card["giftCardUUId"]
    check("get", "/giftcards/{giftCardUUId}", f"/giftcards/{card_id}", status=200)
    check(
        "get", "/giftcards/client/{clientId}", f"/giftcards/client/{card['clientId']}", status=200
    )
    body = {"giftCardUUId": card_id, "amount": 5}
    payment = check("post", "/payments", "/payments", body, 201).json()
    paid = f"/payments/{payment['paymentId']}"
    check("get", "/payments/{paymentId}", paid, status=200)
    check("get", "/payments/giftCard/{giftCardUUId}", f"/payments/giftCard/{card_id}", status=200)
    check("post", "/payments/{paymentId}/refunds", f"{paid}/refunds", {"amount": 1}, 201)
    check("get", "/payments/{paymentId}/refunds", f"{paid}/refunds", status=200)
    check("delete", "/payments/{paymentId}", paid, status=200)
    check("delete", "/payments/{paymentId}", paid, status=409)  # nothing left to refund
    check("post", "/giftcards", "/giftcards", {**card, "expireDate": "2031-01-31"}, 200)
    check("delete", "/giftcards/{giftCardUUId}", f"/giftcards/{card_id}", status=200)
    check("delete", "/clients/{clientId}", f"/clients/{client_id}", status=200)

    # Refusals have the documented error shape too.
    check("get", "/giftcards/{giftCardUUId}", "/giftcards/" + "x" * 22, status=404)
    check("post", "/payments", "/payments", {"giftCardUUId": card_id, "amount": -1}, 400)
    check("get", "/clients", "/clients?pageSize=0", status=400)

    documented = {
        (method, path) for path, operations in document["paths"].items() for method in operations
    }
    assert documented == conformance.seen
