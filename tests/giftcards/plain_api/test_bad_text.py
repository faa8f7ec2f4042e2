"""Text no store can hold (a NUL, a lone surrogate) in a plain API body is a 400 naming the
field it is in, on both engines, and nothing is written."""

from __future__ import annotations

import json

import pytest

from tests.giftcards.plain_api.helpers import card_body, snapshot

NUL, SURROGATE = "\x00", "\ud800"
BAD = pytest.mark.parametrize("bad", [NUL, SURROGATE], ids=["nul", "surrogate"])


def _post(api, path, body):
    # json.dumps writes both as \u escapes, the only way they can travel in JSON.
    return api.generic("POST", path, json.dumps(body), content_type="application/json")


@BAD
@pytest.mark.parametrize(
    "overrides,field",
    [
        ({"status": "{bad}"}, "status"),
        ({"status": "Active{bad}"}, "status"),
        ({"amount": "2{bad}5"}, "amount"),
        ({"giftCardUUId": "{bad}"}, "giftCardUUId"),
        ({"extra": {"deep": ["{bad}"]}}, "extra"),
    ],
)
def test_a_card_with_bad_text_is_a_400_naming_the_field(api, customer, bad, overrides, field):
    overrides = json.loads(json.dumps(overrides).replace("{bad}", json.dumps(bad)[1:-1]))
    before = snapshot()

    response = _post(api, "/giftcards", card_body(customer, **overrides))

    assert response.status_code == 400, response.content
    message = response.json()[field][0]
    assert ("NUL" if bad == NUL else "surrogate") in message
    assert snapshot() == before


@BAD
def test_a_bad_member_name_is_a_400(api, customer, bad):
    body = {**card_body(customer), f"status{bad}": "Active"}

    response = _post(api, "/giftcards", body)

    assert response.status_code == 400, response.content
    assert "member name" in response.json()["detail"]


@BAD
@pytest.mark.parametrize(
    "path,body,field",
    [
        ("/clients", {"firstName": "A{bad}", "lastName": "B"}, "firstName"),
        ("/payments", {"giftCardUUId": "x", "amount": "1", "invoiceId": "{bad}"}, "invoiceId"),
        ("/payments", {"giftCardUUId": "x", "amount": "1", "comment": "{bad}"}, "comment"),
    ],
)
def test_clients_and_payments_with_bad_text_are_400s(api, bad, path, body, field):
    body = json.loads(json.dumps(body).replace("{bad}", json.dumps(bad)[1:-1]))
    before = snapshot()

    response = _post(api, path, body)

    assert response.status_code == 400, response.content
    assert field in response.json()
    assert snapshot() == before


@BAD
def test_a_body_that_is_only_bad_text_is_a_400(api, bad):
    response = _post(api, "/giftcards", bad)

    assert response.status_code == 400, response.content
    assert "detail" in response.json()


@pytest.mark.parametrize(
    "charset,encoded", [("utf-7", b"+2AA-"), ("unicode_escape", b"\\ud800"), ("utf-16", None)]
)
def test_bad_text_decoded_from_another_charset_is_a_400_too(api, customer, charset, encoded):
    # A declared charset decodes the body: some decoders make lone surrogates without escapes.
    text = json.dumps(card_body(customer, status="@"))
    if encoded is None:
        body = text.replace('"@"', '"\\ud800"').encode(charset)
    else:
        body = text.encode("ascii").replace(b'"@"', b'"' + encoded + b'"')
    before = snapshot()

    response = api.generic(
        "POST", "/giftcards", body, content_type=f"application/json; charset={charset}"
    )

    assert response.status_code == 400, response.content
    assert "surrogate" in response.json()["status"][0]
    assert snapshot() == before
