"""Every plain API error body keeps DRF's field messages and lists them in `errors`, each with
a stable code documented in docs/plain-api-errors.md."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from rest_framework.test import APIClient

from giftcards.plain_api import serializers as s
from giftcards.plain_api.errors import CODES
from tests.giftcards.plain_api.helpers import card_body

DOC = Path(__file__).resolve().parents[3] / "docs" / "plain-api-errors.md"
MISSING_CARD = "A" * 22


def documented_codes() -> set[str]:
    """The codes in the first column of the document's tables."""
    return set(re.findall(r"^\| `([a-z_]+)` \|", DOC.read_text(), flags=re.MULTILINE))


def test_every_code_is_documented_and_every_documented_code_is_sent():
    assert documented_codes() == CODES


@pytest.mark.parametrize(
    "serializer",
    [
        s.GiftCardWriteSerializer,
        s.ClientWriteSerializer,
        s.PaymentWriteSerializer,
        s.RefundWriteSerializer,
    ],
)
def test_every_field_error_of_the_request_bodies_has_a_documented_code(serializer):
    for name, field in serializer().fields.items():
        unknown = set(field.error_messages) - CODES
        # DRF's codes that these fields never raise (checked by type before they could).
        unknown -= {"surrogate_characters_not_allowed", "min_length", "max_string_length"}
        assert not unknown, (serializer.__name__, name, unknown)


def pairs(response) -> list[tuple[str | None, str]]:
    body = response.json()
    assert_consistent(body)
    return [(entry["field"], entry["code"]) for entry in body["errors"]]


def assert_consistent(body: dict) -> None:
    """`errors` repeats the body's messages, field by field, each with a documented code."""
    assert isinstance(body["errors"], list) and body["errors"], body
    listed = {}
    for entry in body["errors"]:
        assert set(entry) == {"field", "code", "message"}
        assert entry["code"] in CODES, entry
        listed.setdefault(entry["field"], []).append(entry["message"])
    for key, messages in body.items():
        if key == "errors":
            continue
        name = None if key in ("detail", "non_field_errors") else key
        expected = messages if isinstance(messages, list) else [messages]
        assert listed.get(name) == expected, (key, body)


def test_field_errors_keep_their_messages_and_gain_codes(api, customer):
    response = api.post("/giftcards", card_body(customer, amount=-1, bogus=1), format="json")
    assert response.status_code == 400
    body = response.json()
    assert body["amount"] == ["Cannot be negative."]
    assert body["bogus"] == ["Unknown field."]
    assert set(pairs(response)) == {("amount", "negative"), ("bogus", "unknown_field")}

    missing = {k: v for k, v in card_body(customer).items() if k != "status"}
    assert pairs(api.post("/giftcards", missing, format="json")) == [("status", "required")]
    wrong = card_body(customer, status="Lost", businessId=customer.business_id + 1000)
    assert set(pairs(api.post("/giftcards", wrong, format="json"))) == {
        ("status", "invalid_choice"),
        ("businessId", "wrong_business"),
    }
    nobody = card_body(customer, clientId=10**9)
    assert pairs(api.post("/giftcards", nobody, format="json")) == [("clientId", "does_not_exist")]
    more = card_body(customer, balanceAmount="30")
    assert pairs(api.post("/giftcards", more, format="json")) == [
        ("balanceAmount", "exceeds_amount")
    ]


def test_card_updates_name_what_cannot_change(api, create_card):
    card = create_card()
    response = api.post("/giftcards", {**card, "amount": 99}, format="json")
    assert pairs(response) == [("amount", "immutable")]
    response = api.post("/giftcards", {**card, "clientId": None}, format="json")
    assert pairs(response) == [("clientId", "client_required")]


def test_url_and_body_shapes_have_codes(api):
    assert pairs(api.get("/giftcards/short")) == [("giftCardUUId", "invalid_id")]
    assert pairs(api.get("/clients/x")) == [("clientId", "invalid_id")]
    assert pairs(api.delete("/payments/0")) == [("paymentId", "invalid_id")]
    missing = api.get(f"/giftcards/{MISSING_CARD}")
    assert missing.status_code == 404
    assert pairs(missing) == [(None, "not_found")]
    assert pairs(api.post("/clients", [1], format="json")) == [(None, "not_an_object")]
    broken = api.post("/clients", "{", content_type="application/json")
    assert broken.status_code == 400
    assert pairs(broken) == [(None, "parse_error")]
    pay = {"giftCardUUId": MISSING_CARD, "amount": 0}
    assert pairs(api.post("/payments", pay, format="json")) == [("amount", "zero")]


def test_business_rules_and_states_have_codes(api, create_card):
    card = create_card()
    card_id = card["giftCardUUId"]
    too_much = api.post("/payments", {"giftCardUUId": card_id, "amount": 26}, format="json")
    assert too_much.status_code == 422
    assert pairs(too_much) == [("amount", "insufficient_balance")]

    paid = api.post("/payments", {"giftCardUUId": card_id, "amount": 5}, format="json").json()
    refunds = f"/payments/{paid['paymentId']}/refunds"
    over = api.post(refunds, {"amount": 6}, format="json")
    assert over.status_code == 422
    assert pairs(over) == [("amount", "refund_exceeds_payment")]
    with_body = api.delete(f"/payments/{paid['paymentId']}", {"amount": 1}, format="json")
    assert pairs(with_body) == [("amount", "refund_takes_no_body")]
    assert api.delete(f"/payments/{paid['paymentId']}").status_code == 200
    again = api.delete(f"/payments/{paid['paymentId']}")
    assert again.status_code == 409
    assert pairs(again) == [(None, "already_refunded")]

    stale = api.post("/giftcards", card, format="json", HTTP_IF_MATCH='"stale"')
    assert stale.status_code == 412
    assert pairs(stale) == [(None, "precondition_failed")]


def test_headers_and_http_refusals_have_codes(api):
    bad_key = api.post("/payments", {}, format="json", HTTP_IDEMPOTENCY_KEY=" ")
    assert pairs(bad_key) == [("Idempotency-Key", "invalid_idempotency_key")]
    assert pairs(APIClient().get("/clients")) == [(None, "not_authenticated")]
    wrong = APIClient()
    wrong.credentials(HTTP_AUTHORIZATION="Bearer nope")
    assert pairs(wrong.get("/clients")) == [(None, "authentication_failed")]
    assert pairs(api.put("/clients", {}, format="json")) == [(None, "method_not_allowed")]
    form = api.post("/clients", "a=b", content_type="application/x-www-form-urlencoded")
    assert form.status_code == 415
    assert pairs(form) == [(None, "unsupported_media_type")]


def test_a_body_field_named_errors_is_listed_among_the_errors(api):
    response = api.post("/clients", {"firstName": "A", "lastName": "B", "errors": 1}, format="json")
    assert response.status_code == 400
    entries = response.json()["errors"]
    assert entries == [{"field": "errors", "code": "unknown_field", "message": "Unknown field."}]


def test_the_openapi_document_describes_error_bodies_and_their_codes(api):
    schema = APIClient().get("/api/schema/plain", {"format": "json"}).json()
    shapes = schema["components"]["schemas"]
    item = shapes["ErrorItemShape"]
    code = item["properties"]["code"]
    reference = code.get("$ref") or code["allOf"][0]["$ref"]
    assert set(shapes[reference.rsplit("/", 1)[1]]["enum"]) == CODES
    answer = api.get(f"/giftcards/{MISSING_CARD}").json()
    assert set(answer) <= set(shapes["ErrorShape"]["properties"])
    assert set(answer["errors"][0]) == set(item["properties"])
    responses = schema["paths"]["/clients"]["get"]["responses"]
    assert "400" in responses
