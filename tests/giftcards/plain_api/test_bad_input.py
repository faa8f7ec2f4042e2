"""Bad input to the plain API: every case is a precise 4xx naming the offending field (or a
`detail` for body-level errors) and changes nothing in the database."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pytest

from clients.services import client_create
from giftcards import services
from giftcards.models import Status
from tests.giftcards.plain_api.helpers import api_client, snapshot

# Body-level errors (not one field's fault) carry one of these keys.
BODY_LEVEL = ("detail", "non_field_errors")
OVERSIZED = 300 * 1024  # DATA_UPLOAD_MAX_MEMORY_SIZE is 256 KiB


@dataclass(frozen=True)
class Ids:
    business: int
    client: int
    card: str
    other_business: int
    other_client: int
    other_card: str


@dataclass(frozen=True)
class Case:
    """One bad request. `body` gets the ids; a str or bytes body is sent as is."""

    method: str
    path: str
    body: Callable[[Ids], Any] | None
    status: int
    names: tuple[str, ...]
    content_type: str = "application/json"
    headers: dict = field(default_factory=dict)


def card(**overrides) -> Callable[[Ids], dict]:
    def build(ids: Ids) -> dict:
        body = {
            "active": True,
            "amount": "25",
            "balanceAmount": "25",
            "businessId": ids.business,
            "clientId": ids.client,
            "purchaseDate": 1681963200000,
            "status": "Active",
        }
        body.update({k: v(ids) if callable(v) else v for k, v in overrides.items()})
        return {k: v for k, v in body.items() if v is not MISSING}

    return build


def raw_card(**literals: str) -> Callable[[Ids], str]:
    """A card body as JSON text with some values written as raw JSON literals."""

    def build(ids: Ids) -> str:
        text = json.dumps(card(**{name: f"@{name}@" for name in literals})(ids))
        for name, literal in literals.items():
            text = text.replace(f'"@{name}@"', literal)
        return text

    return build


def payment(**overrides) -> Callable[[Ids], dict]:
    def build(ids: Ids) -> dict:
        body = {"giftCardUUId": ids.card, "amount": "10"}
        body.update({k: v(ids) if callable(v) else v for k, v in overrides.items()})
        return {k: v for k, v in body.items() if v is not MISSING}

    return build


def client(**overrides) -> Callable[[Ids], dict]:
    def build(ids: Ids) -> dict:
        body = {"firstName": "Grace", "lastName": "Hopper", "emailAddress": "grace@example.com"}
        body.update({k: v(ids) if callable(v) else v for k, v in overrides.items()})
        return {k: v for k, v in body.items() if v is not MISSING}

    return build


def padded(build: Callable[[Ids], dict]) -> Callable[[Ids], str]:
    """A valid body made oversized with insignificant whitespace: only its size is wrong."""
    return lambda ids: json.dumps(build(ids)) + " " * OVERSIZED


MISSING = object()


def other_client_id(ids: Ids) -> int:
    return ids.other_client


def other_business_id(ids: Ids) -> int:
    return ids.other_business


def other_card_id(ids: Ids) -> str:
    return ids.other_card


def this_card_id(ids: Ids) -> str:
    return ids.card


HUGE_DIGITS = "1" * 5000  # more digits than int() converts by default
DEEP = 50_000  # nesting depth: 100 KB of brackets, below the size limit

CASES: dict[str, Case] = {
    # POST /giftcards: types
    "card active as a string": Case("post", "/giftcards", card(active="true"), 400, ("active",)),
    "card active as 1": Case("post", "/giftcards", card(active=1), 400, ("active",)),
    "card active null": Case("post", "/giftcards", card(active=None), 400, ("active",)),
    "card amount as a bool": Case("post", "/giftcards", card(amount=True), 400, ("amount",)),
    "card amount as a list": Case("post", "/giftcards", card(amount=[25]), 400, ("amount",)),
    "card amount as an object": Case(
        "post", "/giftcards", card(amount={"value": 25}), 400, ("amount",)
    ),
    "card amount empty": Case("post", "/giftcards", card(amount=""), 400, ("amount",)),
    "card businessId as a float": Case(
        "post", "/giftcards", raw_card(businessId="{business}.0"), 400, ("businessId",)
    ),
    "card businessId not a number": Case(
        "post", "/giftcards", card(businessId="acme"), 400, ("businessId",)
    ),
    "card businessId with 5000 digits": Case(
        "post", "/giftcards", card(businessId=HUGE_DIGITS), 400, ("businessId",)
    ),
    "card clientId as a bool": Case("post", "/giftcards", card(clientId=True), 400, ("clientId",)),
    "card purchaseDate negative": Case(
        "post", "/giftcards", card(purchaseDate=-1), 400, ("purchaseDate",)
    ),
    "card purchaseDate a word": Case(
        "post", "/giftcards", card(purchaseDate="yesterday"), 400, ("purchaseDate",)
    ),
    "card purchaseDate beyond year 9999": Case(
        "post", "/giftcards", raw_card(purchaseDate="1e30"), 400, ("purchaseDate",)
    ),
    "card purchaseDate with 5000 digits": Case(
        "post", "/giftcards", card(purchaseDate=HUGE_DIGITS), 400, ("purchaseDate",)
    ),
    # POST /giftcards: amounts
    "card amount negative": Case(
        "post", "/giftcards", card(amount="-5", balanceAmount="0"), 400, ("amount",)
    ),
    "card balanceAmount negative": Case(
        "post", "/giftcards", card(balanceAmount=-1), 400, ("balanceAmount",)
    ),
    "card amount not numeric": Case("post", "/giftcards", card(amount="abc"), 400, ("amount",)),
    "card amount with 3 decimals": Case(
        "post", "/giftcards", card(amount="25.001", balanceAmount="25"), 400, ("amount",)
    ),
    "card amount 'NaN' string": Case("post", "/giftcards", card(amount="NaN"), 400, ("amount",)),
    "card amount 'Infinity' string": Case(
        "post", "/giftcards", card(amount="Infinity"), 400, ("amount",)
    ),
    "card amount NaN literal": Case("post", "/giftcards", raw_card(amount="NaN"), 400, BODY_LEVEL),
    "card amount Infinity literal": Case(
        "post", "/giftcards", raw_card(amount="-Infinity"), 400, BODY_LEVEL
    ),
    "card amount 1e30": Case("post", "/giftcards", raw_card(amount="1e30"), 400, ("amount",)),
    "card amount '1e30' string": Case("post", "/giftcards", card(amount="1e30"), 400, ("amount",)),
    "card amount 1e999999 (beyond Decimal's exponent)": Case(
        "post", "/giftcards", raw_card(amount="1e999999"), 400, ("amount",)
    ),
    "card amount with a 31st significant digit": Case(
        "post",
        "/giftcards",
        card(amount="0.1000000000000000000000000000001", balanceAmount="0.1"),
        400,
        ("amount",),
    ),
    "card balanceAmount above amount": Case(
        "post", "/giftcards", card(amount="25", balanceAmount="26"), 400, ("balanceAmount",)
    ),
    # POST /giftcards: values, fields, ids
    "card unknown status": Case("post", "/giftcards", card(status="Pending"), 400, ("status",)),
    "card status in the wrong case": Case(
        "post", "/giftcards", card(status="active"), 400, ("status",)
    ),
    "card missing amount": Case("post", "/giftcards", card(amount=MISSING), 400, ("amount",)),
    "card missing status": Case("post", "/giftcards", card(status=MISSING), 400, ("status",)),
    "card missing clientId": Case("post", "/giftcards", card(clientId=MISSING), 400, ("clientId",)),
    "card unknown field": Case("post", "/giftcards", card(color="red"), 400, ("color",)),
    "card foreign clientId": Case(
        "post", "/giftcards", card(clientId=other_client_id), 400, ("clientId",)
    ),
    "card unknown clientId": Case(
        "post", "/giftcards", card(clientId=987654321), 400, ("clientId",)
    ),
    "card foreign businessId": Case(
        "post", "/giftcards", card(businessId=other_business_id), 400, ("businessId",)
    ),
    "card expireDate month 13": Case(
        "post", "/giftcards", card(expireDate="2026-13-45"), 400, ("expireDate",)
    ),
    "card expireDate 'tomorrow'": Case(
        "post", "/giftcards", card(expireDate="tomorrow"), 400, ("expireDate",)
    ),
    "card expireDate February 30": Case(
        "post", "/giftcards", card(expireDate="2026-02-30"), 400, ("expireDate",)
    ),
    "card expireDate 'YYYYMMDD' (not milliseconds)": Case(
        "post", "/giftcards", card(expireDate="20300101"), 400, ("expireDate",)
    ),
    "card expireDate YYYYMMDD number": Case(
        "post", "/giftcards", card(expireDate=20300101), 400, ("expireDate",)
    ),
    "card expireDate in epoch seconds": Case(
        "post", "/giftcards", card(expireDate=1900000000), 400, ("expireDate",)
    ),
    "card amount '1e3' string (not a plain number)": Case(
        "post", "/giftcards", card(amount="1e3", balanceAmount="1e3"), 400, ("amount",)
    ),
    "card active with a past expireDate": Case(
        "post", "/giftcards", card(status="Active", expireDate="2020-01-01"), 400, ("status",)
    ),
    "card malformed giftCardUUId": Case(
        "post", "/giftcards", card(giftCardUUId="not-a-card"), 400, ("giftCardUUId",)
    ),
    "card update of a foreign card": Case(
        "post", "/giftcards", card(giftCardUUId=other_card_id), 400, ("giftCardUUId",)
    ),
    "card update changing amount": Case(
        "post", "/giftcards", card(giftCardUUId=this_card_id, amount="30"), 400, ("amount",)
    ),
    # POST /giftcards: bodies
    "card malformed JSON": Case(
        "post", "/giftcards", lambda ids: '{"active": tru', 400, BODY_LEVEL
    ),
    "card JSON array body": Case(
        "post", "/giftcards", lambda ids: json.dumps([card()(ids)]), 400, BODY_LEVEL
    ),
    "card JSON string body": Case("post", "/giftcards", lambda ids: '"hello"', 400, BODY_LEVEL),
    "card JSON null body": Case("post", "/giftcards", lambda ids: "null", 400, BODY_LEVEL),
    "card text/plain": Case(
        "post",
        "/giftcards",
        lambda ids: json.dumps(card()(ids)),
        415,
        ("detail",),
        content_type="text/plain",
    ),
    "card form-encoded": Case(
        "post",
        "/giftcards",
        lambda ids: "active=true&amount=25",
        415,
        ("detail",),
        content_type="application/x-www-form-urlencoded",
    ),
    "card oversized body": Case("post", "/giftcards", padded(card()), 413, ("detail",)),
    # POST /payments
    "payment amount negative": Case("post", "/payments", payment(amount="-1"), 400, ("amount",)),
    "payment amount zero": Case("post", "/payments", payment(amount=0), 400, ("amount",)),
    "payment amount not numeric": Case(
        "post", "/payments", payment(amount="ten"), 400, ("amount",)
    ),
    "payment amount with 3 decimals": Case(
        "post", "/payments", payment(amount="10.001"), 400, ("amount",)
    ),
    "payment amount '1e1' string": Case(
        "post", "/payments", payment(amount="1e1"), 400, ("amount",)
    ),
    "payment amount as a bool": Case("post", "/payments", payment(amount=True), 400, ("amount",)),
    "payment amount 1e30": Case(
        "post",
        "/payments",
        lambda ids: f'{{"giftCardUUId": "{ids.card}", "amount": 1e30}}',
        400,
        ("amount",),
    ),
    "payment amount '1e999999' string": Case(
        "post", "/payments", payment(amount="1e999999"), 400, ("amount",)
    ),
    "payment amount missing": Case("post", "/payments", payment(amount=MISSING), 400, ("amount",)),
    "payment giftCardUUId missing": Case(
        "post", "/payments", payment(giftCardUUId=MISSING), 400, ("giftCardUUId",)
    ),
    "payment giftCardUUId malformed": Case(
        "post", "/payments", payment(giftCardUUId="abc"), 400, ("giftCardUUId",)
    ),
    "payment giftCardUUId a number": Case(
        "post", "/payments", payment(giftCardUUId=12345), 400, ("giftCardUUId",)
    ),
    "payment giftCardUUId foreign": Case(
        "post", "/payments", payment(giftCardUUId=other_card_id), 400, ("giftCardUUId",)
    ),
    "payment unknown field": Case("post", "/payments", payment(tip="2"), 400, ("tip",)),
    "payment paymentDate a word": Case(
        "post", "/payments", payment(paymentDate="today"), 400, ("paymentDate",)
    ),
    "payment invoiceId a list": Case(
        "post", "/payments", payment(invoiceId=[1]), 400, ("invoiceId",)
    ),
    "payment comment too long": Case(
        "post", "/payments", payment(comment="x" * 1001), 400, ("comment",)
    ),
    "payment comment with a NUL": Case(
        "post", "/payments", payment(comment="a\u0000b"), 400, ("comment",)
    ),
    "payment JSON array body": Case("post", "/payments", lambda ids: "[]", 400, BODY_LEVEL),
    "payment malformed JSON": Case("post", "/payments", lambda ids: "{", 400, BODY_LEVEL),
    "payment oversized body": Case("post", "/payments", padded(payment()), 413, ("detail",)),
    "payment deeply nested JSON": Case(
        "post", "/payments", lambda ids: "[" * DEEP + "]" * DEEP, 400, BODY_LEVEL
    ),
    "payment amount deeply nested": Case(
        "post",
        "/payments",
        lambda ids: f'{{"giftCardUUId": "{ids.card}", "amount": {"[" * DEEP}{"]" * DEEP}}}',
        400,
        (*BODY_LEVEL, "amount"),
    ),
    "payment deeply nested JSON with an Idempotency-Key": Case(
        "post",
        "/payments",
        lambda ids: "[" * DEEP + "]" * DEEP,
        400,
        BODY_LEVEL,
        headers={"HTTP_IDEMPOTENCY_KEY": "deep-1"},
    ),
    "payment body not UTF-8": Case(
        "post", "/payments", lambda ids: b'{"amount": "\xff\xfe"}', 400, BODY_LEVEL
    ),
    # POST /clients
    "client bad email": Case(
        "post", "/clients", client(emailAddress="not-an-email"), 400, ("emailAddress",)
    ),
    "client missing firstName": Case(
        "post", "/clients", client(firstName=MISSING), 400, ("firstName",)
    ),
    "client firstName a list": Case(
        "post", "/clients", client(firstName=["Grace"]), 400, ("firstName",)
    ),
    "client firstName too long": Case(
        "post", "/clients", client(firstName="G" * 101), 400, ("firstName",)
    ),
    "client firstName with a NUL": Case(
        "post", "/clients", client(firstName="Gr\u0000ace"), 400, ("firstName",)
    ),
    "client active as a string": Case("post", "/clients", client(active="yes"), 400, ("active",)),
    "client unknown field": Case(
        "post", "/clients", client(nickname="Amazing"), 400, ("nickname",)
    ),
    "client clientId not a number": Case(
        "post", "/clients", client(clientId="abc"), 400, ("clientId",)
    ),
    "client clientId a superscript digit": Case(
        "post", "/clients", client(clientId="\u00b2"), 400, ("clientId",)
    ),
    "client clientId with 5000 digits": Case(
        "post", "/clients", client(clientId=HUGE_DIGITS), 400, ("clientId",)
    ),
    "client foreign clientId": Case(
        "post", "/clients", client(clientId=other_client_id), 400, ("clientId",)
    ),
    "client unknown clientId": Case(
        "post", "/clients", client(clientId=987654321), 400, ("clientId",)
    ),
    "client foreign businessId": Case(
        "post", "/clients", client(businessId=other_business_id), 400, ("businessId",)
    ),
    "client JSON array body": Case("post", "/clients", lambda ids: "[{}]", 400, BODY_LEVEL),
    "client text/plain": Case(
        "post",
        "/clients",
        lambda ids: json.dumps(client()(ids)),
        415,
        ("detail",),
        content_type="text/plain",
    ),
    "client oversized body": Case("post", "/clients", padded(client()), 413, ("detail",)),
    "client deeply nested JSON": Case(
        "post",
        "/clients",
        lambda ids: '{"firstName": ' + "[" * DEEP + "]" * DEEP + "}",
        400,
        (*BODY_LEVEL, "firstName"),
    ),
    # URL ids
    "GET card malformed id": Case("get", "/giftcards/not-a-card-id", None, 400, ("giftCardUUId",)),
    "GET card id 23 characters": Case(
        "get", "/giftcards/" + "A" * 23, None, 400, ("giftCardUUId",)
    ),
    "DELETE card malformed id": Case("delete", "/giftcards/short", None, 400, ("giftCardUUId",)),
    "GET client cards clientId not numeric": Case(
        "get", "/giftcards/client/abc", None, 400, ("clientId",)
    ),
    "GET client cards clientId negative": Case(
        "get", "/giftcards/client/-1", None, 400, ("clientId",)
    ),
    "GET client cards clientId above 2**63": Case(
        "get", "/giftcards/client/99999999999999999999999", None, 400, ("clientId",)
    ),
    "GET client cards clientId a superscript digit": Case(
        "get", "/giftcards/client/%C2%B2", None, 400, ("clientId",)
    ),
    "GET client cards clientId with 5000 digits": Case(
        "get", f"/giftcards/client/{HUGE_DIGITS}", None, 400, ("clientId",)
    ),
    "GET client clientId with a dot": Case("get", "/clients/1.5", None, 400, ("clientId",)),
    "DELETE client clientId not numeric": Case("delete", "/clients/abc", None, 400, ("clientId",)),
    "GET payments malformed card id": Case(
        "get", "/payments/giftCard/xyz", None, 400, ("giftCardUUId",)
    ),
    "DELETE payment id not numeric": Case("delete", "/payments/abc", None, 400, ("paymentId",)),
    "DELETE payment id a superscript digit": Case(
        "delete", "/payments/%C2%B9", None, 400, ("paymentId",)
    ),
    # Authentication
    "no Authorization header": Case(
        "get", "/clients", None, 401, ("detail",), headers={"HTTP_AUTHORIZATION": None}
    ),
    "unknown key": Case(
        "get",
        "/clients",
        None,
        401,
        ("detail",),
        headers={"HTTP_AUTHORIZATION": "Bearer abcd1234.notarealsecret"},
    ),
    "malformed key": Case(
        "post",
        "/payments",
        payment(),
        401,
        ("detail",),
        headers={"HTTP_AUTHORIZATION": "Bearer not a key"},
    ),
}


@pytest.fixture
def ids(business, other_business, tenant, other_tenant, customer, other_customer, actor) -> Ids:
    card = services.card_issue(
        tenant=tenant, actor=actor, balance_cents=10_000, status=Status.ACTIVE, client=customer
    )
    other_card = services.card_issue(
        tenant=other_tenant,
        actor=actor,
        balance_cents=10_000,
        status=Status.ACTIVE,
        client=other_customer,
    )
    client_create(tenant=tenant, actor=actor, first_name="Second", last_name="Client")
    return Ids(
        business=business.pk,
        client=customer.pk,
        card=card.pk,
        other_business=other_business.pk,
        other_client=other_customer.pk,
        other_card=other_card.pk,
    )


def send(api_key, case: Case, ids: Ids):
    headers = dict(case.headers)
    api = api_client(api_key[1])
    if "HTTP_AUTHORIZATION" in headers:
        # The client's credentials would win over a per-request header.
        api.credentials()
        if headers["HTTP_AUTHORIZATION"] is None:
            del headers["HTTP_AUTHORIZATION"]
    api.raise_request_exception = False  # a 500 is a result to report, not a crash
    path = case.path.format(business=ids.business)
    if case.body is None:
        return getattr(api, case.method)(path, **headers)
    body = case.body(ids)
    if isinstance(body, str | bytes):
        if isinstance(body, str):
            body = body.replace("{business}", str(ids.business))
        return getattr(api, case.method)(path, body, content_type=case.content_type, **headers)
    return getattr(api, case.method)(path, body, format="json", **headers)


@pytest.mark.parametrize("case", CASES.values(), ids=CASES.keys())
def test_bad_input_is_a_precise_4xx_and_changes_nothing(api_key, ids, case):
    before = snapshot()

    response = send(api_key, case, ids)

    assert response.status_code == case.status, (response.status_code, response.content[:500])
    body = response.json()
    assert isinstance(body, dict), body
    assert any(name in body for name in case.names), body
    assert snapshot() == before


def test_all_bad_inputs_in_a_row_leave_the_database_as_it_was(api_key, ids):
    before = snapshot()

    statuses = {name: send(api_key, case, ids).status_code for name, case in CASES.items()}

    assert {name: s for name, s in statuses.items() if not 400 <= s < 500} == {}
    assert snapshot() == before
