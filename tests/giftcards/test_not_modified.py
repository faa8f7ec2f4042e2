"""If-None-Match on single-resource GETs of both APIs: 304 Not Modified while the
representation is the one the client holds, 200 with the new body as soon as anything it shows
changed (a related resource, the fields or includes asked for), never a 304 across tenants."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test import Client as DjangoClient
from django.test.utils import CaptureQueriesContext

from clients.services import api_key_create
from clients.tenancy import Mode
from giftcards.events import work
from giftcards.jsonapi.negotiation import MEDIA_TYPE
from tests.giftcards.export_helpers import run_export
from tests.giftcards.jsonapi.conftest import JsonApiClient, resource
from tests.giftcards.plain_api.helpers import api_client, card_body

# ------------------------------------------------------------------------------- helpers


class Reader:
    """GETs with one API key, returning the raw response (a 304 has no document)."""

    def __init__(self, secret: str, accept: str = MEDIA_TYPE):
        self.client = DjangoClient()
        self.headers = {"Authorization": f"Bearer {secret}", "Accept": accept}

    def get(self, path, params=None, **headers):
        return self.client.get(path, params or {}, headers={**self.headers, **headers})

    def head(self, path, params=None, **headers):
        return self.client.head(path, params or {}, headers={**self.headers, **headers})


def counted(call):
    """(response, queries) of one request."""
    with CaptureQueriesContext(connection) as queries:
        response = call()
    return response, len(queries)


def assert_not_modified(reader: Reader, path: str, params=None) -> str:
    """The route's ETag, after checking that sending it back is a 304 that costs no more
    queries than the 200, and that other tags are 200s."""
    first, queries_200 = counted(lambda: reader.get(path, params))
    assert first.status_code == 200, first.content
    etag = first["ETag"]
    assert etag.startswith('"') and etag.endswith('"'), etag
    assert first["Cache-Control"] == "private, no-cache"

    again, queries_304 = counted(lambda: reader.get(path, params, **{"If-None-Match": etag}))
    assert again.status_code == 304, (path, again.content)
    assert again.content == b""
    assert again["ETag"] == etag
    assert again["Cache-Control"] == "private, no-cache"
    assert "Content-Type" not in again
    # RFC 9110 8.6: a 304's Content-Length, if any, is the 200's.
    assert again.get("Content-Length", str(len(first.content))) == str(len(first.content))
    assert queries_304 <= queries_200

    for matching in (f"W/{etag}", f'"nope", {etag}', "*"):
        assert reader.get(path, params, **{"If-None-Match": matching}).status_code == 304
    head = reader.head(path, params, **{"If-None-Match": etag})
    assert head.status_code == 304
    for other in ('"nope"', 'W/"nope"', "garbage"):
        response = reader.get(path, params, **{"If-None-Match": other})
        assert response.status_code == 200
        assert response.content == first.content
        assert response["ETag"] == etag
    return etag


def changed(reader: Reader, path: str, etag: str, params=None):
    """The route after a change: the old tag gets a 200 with a new body and a new tag."""
    response = reader.get(path, params, **{"If-None-Match": etag})
    assert response.status_code == 200, response.content
    assert response["ETag"] != etag
    assert response.content
    return response


# ------------------------------------------------------------------------------- JSON:API


@pytest.fixture
def jsonapi(api_key) -> JsonApiClient:
    return JsonApiClient(api_key[1])


@pytest.fixture
def reader(api_key) -> Reader:
    return Reader(api_key[1])


@pytest.fixture
def other_reader(other_business) -> Reader:
    return Reader(api_key_create(business=other_business, name="other", mode=Mode.LIVE)[1])


@pytest.fixture
def test_mode_reader(business) -> Reader:
    return Reader(api_key_create(business=business, name="sandbox", mode=Mode.TEST)[1])


def created(response) -> str:
    assert response.status_code == 201, response.doc
    return response.doc["data"]["id"]


def patch(api: JsonApiClient, type_: str, id_: str, attributes: dict, **headers):
    response = api.patch(f"/api/{type_}/{id_}", resource(type_, attributes, id_=id_), **headers)
    assert response.status_code == 200, response.doc
    return response


@pytest.fixture
def world(jsonapi, receiver):
    """One of every resource the JSON:API reads one at a time, made through the API."""
    api = jsonapi
    market = created(
        api.post("/api/markets", resource("markets", {"name": "EU", "currency_code": "EUR"}))
    )
    recipient = created(
        api.post(
            "/api/gift_card_recipients",
            resource("gift_card_recipients", {"email": "a@example.com"}),
        )
    )
    tag = created(api.post("/api/tags", resource("tags", {"name": "promo"})))
    relationships = {
        "market": {"data": {"type": "markets", "id": market}},
        "gift_card_recipient": {"data": {"type": "gift_card_recipients", "id": recipient}},
    }
    cards = []
    for _ in range(2):
        body = resource("gift_cards", {"balance_cents": 5_000, "currency_code": "EUR"})
        body["data"]["relationships"] = relationships
        card = created(api.post("/api/gift_cards", body))
        patch(api, "gift_cards", card, {"_purchase": True})
        patch(api, "gift_cards", card, {"_activate": True})
        cards.append(card)
    card, other = cards
    patch(api, "gift_cards", card, {"_add_tags": "promo"})
    transfer = created(
        api.post(
            "/api/balance_transfers",
            resource(
                "balance_transfers",
                {"amount_cents": 100},
                {
                    "source": {"type": "gift_cards", "id": card},
                    "target": {"type": "gift_cards", "id": other},
                },
            ),
        )
    )
    attachment = created(
        api.post(
            "/api/attachments",
            resource(
                "attachments",
                {"name": "receipt", "url": "https://files.example.com/r.pdf"},
                {"attachable": {"type": "gift_cards", "id": card}},
            ),
        )
    )
    webhook = created(
        api.post(
            "/api/webhooks",
            resource(
                "webhooks", {"topic": "gift_cards.balance_change", "callback_url": receiver.url}
            ),
        )
    )
    patch(api, "gift_cards", card, {"_balance_change_cents": -100})
    work.drain(rounds=1)
    receiver.wait_for(1)
    callback = api.get("/api/event_callbacks").doc["data"][0]["id"]
    export = created(api.post("/api/exports", resource("exports", {"resource_type": "gift_cards"})))
    run_export(export)
    job = created(
        api.post(
            "/api/imports",
            resource(
                "imports",
                {
                    "resource_type": "gift_cards",
                    "inputs": [
                        {"code": "IMPORTED-0001", "currency_code": "EUR", "balance_cents": 1}
                    ],
                },
            ),
        )
    )
    version = api.get(f"/api/gift_cards/{card}/versions").doc["data"][0]["id"]
    return {
        "gift_cards": card,
        "other_card": other,
        "markets": market,
        "gift_card_recipients": recipient,
        "tags": tag,
        "balance_transfers": transfer,
        "attachments": attachment,
        "webhooks": webhook,
        "event_callbacks": callback,
        "exports": export,
        "imports": job,
        "versions": version,
        "events": "gift_cards.balance_change",
    }


MEMBERS = [
    "gift_cards",
    "gift_card_recipients",
    "markets",
    "tags",
    "balance_transfers",
    "attachments",
    "webhooks",
    "event_callbacks",
    "exports",
    "imports",
    "versions",
    "events",
]
# To-one related routes: (type, relationship).
TO_ONE = [
    ("gift_cards", "market"),
    ("gift_cards", "gift_card_recipient"),
    ("balance_transfers", "source"),
    ("balance_transfers", "target"),
    ("attachments", "attachable"),
    ("event_callbacks", "webhook"),
]


@pytest.mark.parametrize("type_", MEMBERS)
def test_every_jsonapi_member_answers_304_to_its_etag(world, reader, other_reader, type_):
    path = f"/api/{type_}/{world[type_]}"
    etag = assert_not_modified(reader, path)

    if type_ == "events":
        return  # topics, the same for every business
    # Another business's key never learns the tag matches: the lookup comes first.
    for sent in (etag, "*"):
        assert other_reader.get(path, **{"If-None-Match": sent}).status_code == 404


@pytest.mark.parametrize(("type_", "name"), TO_ONE)
def test_to_one_related_routes_answer_304_to_their_etag(world, reader, other_reader, type_, name):
    path = f"/api/{type_}/{world[type_]}/{name}"
    etag = assert_not_modified(reader, path)
    assert other_reader.get(path, **{"If-None-Match": etag}).status_code == 404


def test_lists_and_to_many_routes_are_not_conditional(world, reader):
    for path in ("/api/gift_cards", f"/api/gift_cards/{world['gift_cards']}/tags"):
        response = reader.get(path)
        assert response.status_code == 200
        assert "ETag" not in response


def test_the_other_mode_of_the_same_business_is_a_404_too(world, reader, test_mode_reader):
    path = f"/api/gift_cards/{world['gift_cards']}"
    etag = reader.get(path)["ETag"]
    assert test_mode_reader.get(path, **{"If-None-Match": etag}).status_code == 404


def card_path(world) -> str:
    return f"/api/gift_cards/{world['gift_cards']}"


def test_a_recipient_email_changed_through_its_resource_is_a_new_card_representation(
    world, jsonapi, reader
):
    """The card's updated_at does not move, but its document shows recipient_email."""
    path = card_path(world)
    etag = assert_not_modified(reader, path)
    patch(jsonapi, "gift_card_recipients", world["gift_card_recipients"], {"email": "b@x.io"})

    response = changed(reader, path, etag)
    assert b"b@x.io" in response.content
    assert_not_modified(reader, path)


def test_a_market_renamed_through_its_resource_is_a_new_included_document(world, jsonapi, reader):
    path, params = card_path(world), {"include": "market"}
    etag = assert_not_modified(reader, path, params)
    patch(jsonapi, "markets", world["markets"], {"name": "Europe"})

    assert b"Europe" in changed(reader, path, etag, params).content


def test_a_tag_added_or_renamed_is_a_new_card_representation(world, jsonapi, reader):
    path, params = card_path(world), {"include": "tags"}
    etag = assert_not_modified(reader, path, params)
    created(jsonapi.post("/api/tags", resource("tags", {"name": "vip"})))
    patch(jsonapi, "gift_cards", world["gift_cards"], {"_add_tags": "vip"})
    assert b"vip" in changed(reader, path, etag, params).content

    etag = assert_not_modified(reader, path, params)
    patch(jsonapi, "tags", world["tags"], {"name": "promotion"})
    assert b"promotion" in changed(reader, path, etag, params).content


def test_other_fields_or_includes_are_other_representations(world, reader):
    path = card_path(world)
    plain = reader.get(path)["ETag"]
    variants = [
        {"fields[gift_cards]": "balance_cents"},
        {"fields[gift_cards]": "balance_cents,code"},
        {"include": "market"},
        {"include": "market,gift_card_recipient"},
    ]
    tags = {plain}
    for params in variants:
        response = changed(reader, path, plain, params)
        tags.add(response["ETag"])
        assert reader.get(path, params, **{"If-None-Match": response["ETag"]}).status_code == 304
    assert len(tags) == len(variants) + 1


def test_a_write_that_changes_the_card_makes_the_old_etag_a_200(world, jsonapi, reader):
    path = card_path(world)
    etag = assert_not_modified(reader, path)
    patch(jsonapi, "gift_cards", world["gift_cards"], {"_balance_change_cents": -100})
    changed(reader, path, etag)


def test_if_match_takes_the_etag_of_a_get_and_compares_the_card_version(world, jsonapi, reader):
    """A GET's ETag also names the card's version: If-Match with it refuses a stale write
    (412), and accepts the write while only related resources changed."""
    card = world["gift_cards"]
    path = card_path(world)
    etag = reader.get(path)["ETag"]
    patch(jsonapi, "gift_card_recipients", world["gift_card_recipients"], {"email": "c@x.io"})
    assert reader.get(path)["ETag"] != etag  # the representation changed, the card did not

    accepted = patch(jsonapi, "gift_cards", card, {"reference": "one"}, **{"If-Match": etag})
    stale = jsonapi.patch(
        f"/api/gift_cards/{card}",
        resource("gift_cards", {"reference": "two"}, id_=card),
        **{"If-Match": etag},
    )
    assert stale.status_code == 412
    # The ETag of a write's answer (the bare version) is accepted as well.
    patch(jsonapi, "gift_cards", card, {"reference": "three"}, **{"If-Match": accepted["ETag"]})
    fresh = reader.get(path)["ETag"]
    patch(jsonapi, "gift_cards", card, {"reference": "four"}, **{"If-Match": f'"x", {fresh}'})
    weak = jsonapi.patch(
        f"/api/gift_cards/{card}",
        resource("gift_cards", {"reference": "five"}, id_=card),
        **{"If-Match": f"W/{reader.get(path)['ETag']}"},
    )
    assert weak.status_code == 412  # If-Match compares strongly


# ------------------------------------------------------------------------------- plain API


@pytest.fixture
def plain(api_key):
    return api_client(api_key[1])


@pytest.fixture
def plain_reader(api_key) -> Reader:
    return Reader(api_key[1], accept="application/json")


@pytest.fixture
def plain_other_reader(other_business) -> Reader:
    secret = api_key_create(business=other_business, name="other", mode=Mode.LIVE)[1]
    return Reader(secret, accept="application/json")


@pytest.fixture
def plain_world(plain, tenant, actor):
    from clients.services import client_create

    customer = client_create(tenant=tenant, actor=actor, first_name="Ada", last_name="L")
    card = plain.post("/giftcards", card_body(customer), format="json")
    assert card.status_code == 201, card.content
    card_id = card.json()["giftCardUUId"]
    paid = plain.post("/payments", {"giftCardUUId": card_id, "amount": 5}, format="json")
    assert paid.status_code == 201, paid.content
    return {"card": card_id, "client": customer.pk, "payment": paid.json()["paymentId"]}


def plain_paths(plain_world) -> list[str]:
    return [
        f"/giftcards/{plain_world['card']}",
        f"/clients/{plain_world['client']}",
        f"/payments/{plain_world['payment']}",
    ]


def test_every_plain_single_resource_answers_304_to_its_etag(
    plain_world, plain_reader, plain_other_reader
):
    for path in plain_paths(plain_world):
        etag = assert_not_modified(plain_reader, path)
        for sent in (etag, "*"):
            assert plain_other_reader.get(path, **{"If-None-Match": sent}).status_code == 404


def test_plain_lists_are_not_conditional(plain_world, plain_reader):
    for path in ("/clients", f"/payments/giftCard/{plain_world['card']}"):
        response = plain_reader.get(path)
        assert response.status_code == 200
        assert "ETag" not in response


def test_plain_resources_changed_are_200s_with_their_new_body(plain_world, plain, plain_reader):
    card, client, payment = plain_paths(plain_world)
    card_etag = assert_not_modified(plain_reader, card)
    client_etag = assert_not_modified(plain_reader, client)
    payment_etag = assert_not_modified(plain_reader, payment)

    refund = {"amount": 1}
    assert plain.post(f"{payment}/refunds", refund, format="json").status_code == 201
    assert changed(plain_reader, payment, payment_etag).json()["refundedAmount"] == 1
    assert changed(plain_reader, card, card_etag).json()["balanceAmount"] == 21
    update = {"clientId": plain_world["client"], "lastName": "Lovelace"}
    assert plain.post("/clients", update, format="json").status_code == 200
    assert changed(plain_reader, client, client_etag).json()["lastName"] == "Lovelace"


def test_plain_get_etag_works_as_if_match_on_an_update(plain_world, plain, plain_reader):
    path = f"/giftcards/{plain_world['card']}"
    read = plain.get(path)
    stale = read["ETag"]
    body = {**read.json(), "balanceAmount": 20}
    pay = {"giftCardUUId": plain_world["card"], "amount": 1}
    assert plain.post("/payments", pay, format="json").status_code == 201

    refused = plain.post("/giftcards", body, format="json", HTTP_IF_MATCH=stale)
    assert refused.status_code == 412
    fresh = plain.get(path)
    ok = plain.post("/giftcards", fresh.json(), format="json", HTTP_IF_MATCH=fresh["ETag"])
    assert ok.status_code == 200, ok.content


def test_the_two_apis_tag_the_same_card_apart(plain_world, reader, plain_reader, jsonapi):
    """Two representations of one card: neither API's tag is a 304 in the other."""
    card = plain_world["card"]
    plain_etag = plain_reader.get(f"/giftcards/{card}")["ETag"]
    jsonapi_etag = reader.get(f"/api/gift_cards/{card}")["ETag"]
    assert plain_etag != jsonapi_etag
    response = reader.get(f"/api/gift_cards/{card}", **{"If-None-Match": plain_etag})
    assert response.status_code == 200
    response = plain_reader.get(f"/giftcards/{card}", **{"If-None-Match": jsonapi_etag})
    assert response.status_code == 200
