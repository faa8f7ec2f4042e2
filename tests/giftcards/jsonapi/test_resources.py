"""Recipients, markets, tags and a card's versions."""

from __future__ import annotations

import pytest

from giftcards.models import GiftCardRecipient, Market, Tag
from tests.giftcards.jsonapi.conftest import resource
from tests.giftcards.jsonapi.helpers import card_url, error, patch_card

# ---------------------------------------------------------------------------- recipients


def test_recipient_crud(api, tenant):
    body = resource(
        "gift_card_recipients",
        {"email": "ann@example.com", "first_name": "Ann", "metadata": {"crm": 1}},
    )
    created = api.post("/api/gift_card_recipients", body)
    assert created.status_code == 201, created.doc
    data = created.doc["data"]
    assert data["type"] == "gift_card_recipients"
    assert data["meta"] == {"mode": "live"}
    assert data["attributes"]["metadata"] == {"crm": 1}
    url = f"/api/gift_card_recipients/{data['id']}"
    assert api.get(url).doc["data"]["attributes"]["first_name"] == "Ann"

    patched = api.patch(url, resource("gift_card_recipients", {"last_name": "Lee"}, id_=data["id"]))
    assert patched.doc["data"]["attributes"]["last_name"] == "Lee"
    assert api.delete(url).status_code == 204
    assert api.get(url).status_code == 404


def test_recipient_email_is_unique_case_insensitively(api, tenant):
    api.post("/api/gift_card_recipients", resource("gift_card_recipients", {"email": "a@x.io"}))
    response = api.post(
        "/api/gift_card_recipients", resource("gift_card_recipients", {"email": "A@X.IO"})
    )
    assert error(response, 409)["source"]["pointer"] == "/data/attributes/email"
    other = api.post(
        "/api/gift_card_recipients", resource("gift_card_recipients", {"email": "b@x.io"})
    )
    url = f"/api/gift_card_recipients/{other.doc['data']['id']}"
    body = resource("gift_card_recipients", {"email": "a@X.io"}, id_=other.doc["data"]["id"])
    assert error(api.patch(url, body), 409)


@pytest.mark.parametrize(
    "attrs,pointer",
    [
        ({}, "email"),
        ({"email": "nope"}, "email"),
        ({"email": "a@x.io", "first_name": 5}, "first_name"),
        ({"email": "a@x.io", "metadata": "x"}, "metadata"),
        ({"email": "a@x.io", "created_at": "2020-01-01T00:00:00Z"}, "created_at"),
        ({"email": "a@x.io", "client": 1}, "client"),
    ],
)
def test_bad_recipients_are_400s(api, attrs, pointer):
    response = api.post("/api/gift_card_recipients", resource("gift_card_recipients", attrs))
    assert response.status_code == (400 if pointer in ("created_at", "client") else 422)
    assert response.doc["errors"][0]["source"]["pointer"] == f"/data/attributes/{pointer}"


def test_recipient_of_cards_cannot_be_deleted(api, create_card):
    card = create_card(recipient_email="ann@example.com")
    recipient_id = card["relationships"]["gift_card_recipient"]["data"]["id"]
    assert error(api.delete(f"/api/gift_card_recipients/{recipient_id}"), 409)


def test_card_related_recipient_and_linkage(api, create_card):
    card = create_card(recipient_email="ann@example.com")
    related = api.get(f"{card_url(card['id'])}/gift_card_recipient").doc["data"]
    assert related["type"] == "gift_card_recipients"
    assert related["attributes"]["email"] == "ann@example.com"
    linkage = api.get(f"{card_url(card['id'])}/relationships/gift_card_recipient").doc
    assert linkage["data"] == {"type": "gift_card_recipients", "id": related["id"]}
    assert linkage["links"]["related"].endswith(f"{card['id']}/gift_card_recipient")
    none = create_card()
    assert api.get(f"{card_url(none['id'])}/market").doc == {"data": None}
    assert api.get(f"{card_url(none['id'])}/relationships/market").doc["data"] is None


# ---------------------------------------------------------------------------- markets


def test_market_crud_and_its_rules(api, create_card):
    created = api.post("/api/markets", resource("markets", {"name": "EU", "currency_code": "EUR"}))
    assert created.status_code == 201
    market_id = created.doc["data"]["id"]
    url = f"/api/markets/{market_id}"
    body = resource("markets", {"currency_code": "GBP"}, id_=market_id)
    assert api.patch(url, body).doc["data"]["attributes"]["currency_code"] == "GBP"

    create_card(relationships={"market": {"type": "markets", "id": market_id}})
    body = resource("markets", {"currency_code": "EUR"}, id_=market_id)
    assert error(api.patch(url, body), 409)["source"]["pointer"] == "/data/attributes/currency_code"
    refusal = error(api.delete(url), 409)
    assert (refusal["code"], refusal["meta"]["error"]) == ("CONFLICT", "market_in_use")
    assert "source" not in refusal  # a DELETE sends no document to point into
    assert Market.objects.filter(pk=market_id).exists()


@pytest.mark.parametrize("currency", ["EURO", "eur", "XXX", 978])
def test_market_currency_must_be_iso_4217(api, currency):
    body = resource("markets", {"name": "EU", "currency_code": currency})
    response = api.post("/api/markets", body)
    assert response.status_code == 422
    assert response.doc["errors"][0]["source"]["pointer"] == "/data/attributes/currency_code"


def test_markets_filter_and_sort(api, tenant):
    for name, currency in [("B", "USD"), ("A", "EUR")]:
        Market.objects.create(
            business=tenant.business, mode=tenant.mode, name=name, currency_code=currency
        )
    names = [m["attributes"]["name"] for m in api.get("/api/markets", {"sort": "name"}).doc["data"]]
    assert names == ["A", "B"]
    data = api.get("/api/markets", {"filter[currency_code]": "EUR"}).doc["data"]
    assert [m["attributes"]["name"] for m in data] == ["A"]


# ---------------------------------------------------------------------------- tags


def test_tag_crud(api, tenant, create_card):
    created = api.post("/api/tags", resource("tags", {"name": "vip"}))
    assert created.status_code == 201
    tag_id = created.doc["data"]["id"]
    assert error(api.post("/api/tags", resource("tags", {"name": " vip "})), 409)
    assert error(api.post("/api/tags", resource("tags", {"name": "a,b"})), 422)
    card = create_card()
    patch_card(api, card["id"], {"_add_tags": "vip"})
    tags = api.get(f"{card_url(card['id'])}/tags").doc
    assert [t["id"] for t in tags["data"]] == [tag_id]
    assert tags["meta"] == {"record_count": 1, "page_count": 1}
    assert api.delete(f"/api/tags/{tag_id}").status_code == 204
    assert api.get(card_url(card["id"])).doc["data"]["relationships"]["tags"]["data"] == []
    assert not Tag.objects.exists()


def test_tags_filter(api, tenant):
    for name in ("summer", "winter"):
        Tag.objects.create(business=tenant.business, mode=tenant.mode, name=name)
    data = api.get("/api/tags", {"filter[q][name_cont]": "UMM"}).doc["data"]
    assert [t["attributes"]["name"] for t in data] == ["summer"]


# ---------------------------------------------------------------------------- versions


def test_versions_tell_who_changed_what_when(api, create_card):
    card = create_card(status="active", balance_cents=5_000, recipient_email="ann@example.com")
    patch_card(api, card["id"], {"reference": "ERP-1"})
    patch_card(api, card["id"], {"_balance_change_cents": -1_000})
    response = api.get(f"{card_url(card['id'])}/versions")
    versions = response.doc["data"]
    assert [v["attributes"]["event"] for v in versions] == ["created", "updated", "updated"]
    created, renamed, debited = (v["attributes"] for v in versions)
    assert created["changes"]["balance_cents"] == [None, 5_000]
    assert created["changes"]["status"] == [None, "active"]
    assert renamed["changes"] == {"reference": ["", "ERP-1"]}
    assert debited["changes"] == {"balance_cents": [5_000, 4_000]}
    assert {v["attributes"]["changed_by"] for v in versions} == {"pos-1"}
    assert all(v["relationships"]["gift_card"]["data"]["id"] == card["id"] for v in versions)
    # Codes never enter the history.
    assert not {"code", "code_hash", "code_encrypted", "code_last4"} & set(created["changes"])
    assert card["attributes"]["code"] not in str(versions)

    one = api.get(versions[2]["links"]["self"].replace("http://testserver", ""))
    assert one.doc["data"]["attributes"]["changes"] == {"balance_cents": [5_000, 4_000]}


def test_versions_compare_across_page_boundaries(api, create_card):
    card = create_card(balance_cents=100)
    for n in range(3):
        patch_card(api, card["id"], {"reference": f"r{n}"})
    page = api.get(f"{card_url(card['id'])}/versions", {"page[size]": 2, "page[number]": 2}).doc
    assert [v["attributes"]["changes"] for v in page["data"]] == [
        {"reference": ["r0", "r1"]},
        {"reference": ["r1", "r2"]},
    ]


def test_versions_are_read_only(api, create_card):
    card = create_card()
    version_id = api.get(f"{card_url(card['id'])}/versions").doc["data"][0]["id"]
    assert error(api.delete(f"/api/versions/{version_id}"), 405)
    assert error(api.get(f"{card_url(card['id'])}/versions", {"sort": "created_at"}), 400)


def test_versions_of_a_deleted_card_are_gone(api, create_card):
    card = create_card()
    version_id = api.get(f"{card_url(card['id'])}/versions").doc["data"][0]["id"]
    api.delete(card_url(card["id"]))
    assert error(api.get(f"/api/versions/{version_id}"), 404)
    assert error(api.get(f"{card_url(card['id'])}/versions"), 404)


def test_recipient_model_untouched_by_reads(api, create_card):
    create_card(recipient_email="ann@example.com")
    api.get("/api/gift_card_recipients")
    assert GiftCardRecipient.objects.count() == 1
