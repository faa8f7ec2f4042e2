"""The OpenAPI document of the plain API (/api/schema/plain; /api/schema has it beside the
JSON:API's) describes the plain API as it answers."""

from __future__ import annotations

import pytest
from drf_spectacular.validation import validate_schema
from rest_framework.test import APIClient

SEED_PATHS = {
    "/giftcards",
    "/giftcards/{giftCardUUId}",
    "/giftcards/client/{clientId}",
    "/clients",
    "/clients/{clientId}",
    "/payments",
    "/payments/{paymentId}",
    "/payments/giftCard/{giftCardUUId}",
    # Not in the seed: partial refunds of a payment, and the clients' count (as TimeTap has it).
    "/payments/{paymentId}/refunds",
    "/clients/count",
}


@pytest.fixture
def schema(db) -> dict:
    response = APIClient().get("/api/schema/plain", {"format": "json"})  # public: no key needed
    assert response.status_code == 200, response.content
    return response.json()


def test_schema_is_valid_openapi_with_the_seed_paths_only(schema):
    validate_schema(schema)
    assert set(schema["paths"]) == SEED_PATHS
    assert schema["components"]["securitySchemes"]["ApiKey"]["scheme"] == "bearer"


def test_documented_shapes_are_the_shapes_the_api_answers(schema, api, create_card):
    shapes = schema["components"]["schemas"]
    card = create_card()
    payment = api.post(
        "/payments", {"giftCardUUId": card["giftCardUUId"], "amount": 5}, format="json"
    ).json()
    client = api.get(f"/clients/{card['clientId']}").json()

    assert set(card) == set(shapes["GiftCardShape"]["properties"])
    assert set(payment) == set(shapes["PaymentShape"]["properties"])
    assert set(client) == set(shapes["ClientShape"]["properties"])
    refund = api.post(
        f"/payments/{payment['paymentId']}/refunds", {"amount": 1}, format="json"
    ).json()
    assert set(refund) == set(shapes["RefundShape"]["properties"])
    listed = api.get(f"/payments/giftCard/{card['giftCardUUId']}").json()
    assert set(listed[0]["refunds"][0]) == set(shapes["RefundShape"]["properties"])


def test_money_moving_writes_document_the_idempotency_key(schema):
    for path, method in [
        ("/giftcards", "post"),
        ("/payments", "post"),
        ("/payments/{paymentId}", "delete"),
        ("/payments/{paymentId}/refunds", "post"),
    ]:
        names = {p["name"] for p in schema["paths"][path][method].get("parameters", [])}
        assert "Idempotency-Key" in names, (path, method)


def test_path_parameters_and_create_or_update_statuses_are_documented(schema):
    client = path_parameters(schema, "/clients/{clientId}")
    card = path_parameters(schema, "/giftcards/{giftCardUUId}")
    assert client[0]["schema"] == {"type": "integer", "minimum": 1}
    assert card[0]["schema"]["pattern"] == "^[A-Za-z0-9_-]{22}$"
    for path in ("/giftcards", "/clients"):
        assert {"200", "201", "400", "413", "415"} <= set(
            schema["paths"][path]["post"]["responses"]
        )


def path_parameters(schema: dict, path: str) -> list[dict]:
    """The GET's path parameters (its header parameters, If-None-Match, come first)."""
    parameters = schema["paths"][path]["get"]["parameters"]
    return [parameter for parameter in parameters if parameter["in"] == "path"]
