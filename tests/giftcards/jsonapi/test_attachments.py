"""`/api/attachments` and the `attachments` of cards, recipients and markets: CRUD through
giftcards.attachments, the polymorphic `attachable`, tenancy, includes and related routes."""

from __future__ import annotations

import pytest

from giftcards.models import Attachment, GiftCardRecipient, Market
from tests.giftcards.jsonapi.conftest import resource
from tests.giftcards.jsonapi.helpers import card_url, error, patch_card, pointers

ATTRIBUTES = [
    "name",
    "description",
    "url",
    "created_at",
    "updated_at",
    "reference",
    "reference_origin",
    "metadata",
]


def attach(api, type_, id_, **attributes):
    attributes.setdefault("name", "Terms")
    body = resource("attachments", attributes, {"attachable": {"type": type_, "id": str(id_)}})
    return api.post("/api/attachments", body)


def attached(api, type_, id_, **attributes) -> dict:
    response = attach(api, type_, id_, **attributes)
    assert response.status_code == 201, response.doc
    return response.doc["data"]


@pytest.fixture
def market(tenant):
    return Market.objects.create(
        business=tenant.business, mode=tenant.mode, name="EU", currency_code="EUR"
    )


@pytest.fixture
def recipient(tenant):
    return GiftCardRecipient.objects.create(
        business=tenant.business, mode=tenant.mode, email="ann@example.com"
    )


def test_attachment_crud(api, create_card):
    card = create_card()
    response = attach(
        api,
        "gift_cards",
        card["id"],
        name="Receipt",
        description="The POS receipt",
        url="https://files.example.com/r.pdf",
        metadata={"pages": 1},
    )
    assert response.status_code == 201, response.doc
    data = response.doc["data"]
    assert response["Location"] == data["links"]["self"]
    assert list(data["attributes"]) == ATTRIBUTES
    assert data["attributes"]["url"] == "https://files.example.com/r.pdf"
    assert data["meta"] == {"mode": "live"}
    assert data["relationships"] == {
        "attachable": {
            "links": {
                "self": f"{data['links']['self']}/relationships/attachable",
                "related": f"{data['links']['self']}/attachable",
            },
            "data": {"type": "gift_cards", "id": card["id"]},
        }
    }
    url = f"/api/attachments/{data['id']}"
    assert api.get(url).doc["data"] == data
    related = api.get(f"{url}/attachable").doc["data"]
    assert (related["type"], related["id"]) == ("gift_cards", card["id"])
    assert related["attributes"]["balance_cents"] == 5_000
    assert api.get(f"{url}/relationships/attachable").doc["data"] == {
        "type": "gift_cards",
        "id": card["id"],
    }

    body = resource("attachments", {"name": "Receipt 2", "url": None}, id_=data["id"])
    patched = api.patch(url, body).doc["data"]["attributes"]
    assert (patched["name"], patched["url"], patched["description"]) == (
        "Receipt 2",
        "",
        "The POS receipt",
    )
    assert api.delete(url).status_code == 204
    assert error(api.get(url), 404)
    assert not Attachment.objects.exists()


def test_attachments_for_recipients_and_markets(api, recipient, market):
    for type_, row in (("gift_card_recipients", recipient), ("markets", market)):
        data = attached(api, type_, row.pk)
        related = api.get(f"/api/attachments/{data['id']}/attachable").doc["data"]
        assert (related["type"], related["id"]) == (type_, str(row.pk))


def test_an_attachment_moves_to_another_attachable(api, recipient, market):
    data = attached(api, "markets", market.pk)
    body = resource(
        "attachments",
        None,
        {"attachable": {"type": "gift_card_recipients", "id": str(recipient.pk)}},
        id_=data["id"],
    )
    response = api.patch(f"/api/attachments/{data['id']}", body)
    assert response.status_code == 200, response.doc
    assert response.doc["data"]["relationships"]["attachable"]["data"] == {
        "type": "gift_card_recipients",
        "id": str(recipient.pk),
    }


@pytest.mark.parametrize(
    "attributes,pointer",
    [
        ({"name": None}, "/data/attributes/name"),
        ({"name": " "}, "/data/attributes/name"),
        ({"name": "x" * 256}, "/data/attributes/name"),
        ({"url": "ftp://files.example.com/a"}, "/data/attributes/url"),
        ({"url": "javascript:alert(1)"}, "/data/attributes/url"),
        ({"url": "https://example.com/" + "a" * 2000}, "/data/attributes/url"),
        ({"url": 5}, "/data/attributes/url"),
        ({"description": ["x"]}, "/data/attributes/description"),
        ({"metadata": "x"}, "/data/attributes/metadata"),
        ({"created_at": "2020-01-01T00:00:00Z"}, "/data/attributes/created_at"),
        # Sent in both sections (the helper sends the relationship).
        ({"attachable": "x"}, "/data/relationships/attachable"),
    ],
)
def test_bad_attachments_are_400s_pointing_at_the_member(api, market, attributes, pointer):
    response = attach(api, "markets", market.pk, **attributes)
    malformed = {"created_at", "attachable"} & set(attributes)  # read-only; in both sections
    assert error(response, 400 if malformed else 422)["source"] == {"pointer": pointer}
    assert not Attachment.objects.exists()


def test_attachable_is_required_and_well_formed(api, market):
    missing = api.post("/api/attachments", resource("attachments", {"name": "x"}))
    assert pointers(missing) == {"/data/relationships/attachable"}
    assert missing.status_code == 422
    as_attribute = resource(
        "attachments", {"name": "x", "attachable": {"type": "markets", "id": str(market.pk)}}
    )
    response = api.post("/api/attachments", as_attribute)
    assert error(response, 422)["source"] == {"pointer": "/data/attributes/attachable"}
    for linkage in (None, {"type": "markets"}, {"type": "markets", "id": 5}, [], "x"):
        body = resource("attachments", {"name": "x"}, {"attachable": linkage})
        response = api.post("/api/attachments", body)
        assert error(response, 422)["source"] == {"pointer": "/data/relationships/attachable"}


@pytest.mark.parametrize("type_", ["tags", "webhooks", "attachments", "orders"])
def test_other_attachable_types_are_409s(api, type_):
    response = attach(api, type_, "1")
    problem = error(response, 409)
    assert (problem["code"], problem["meta"]["error"]) == ("TYPE_MISMATCH", "type_mismatch")
    assert problem["source"] == {"pointer": "/data/relationships/attachable/data/type"}


def test_rows_the_key_cannot_see_are_404s(api, other_api, test_mode_api, create_card, market):
    card = create_card()
    for client in (other_api, test_mode_api):
        for type_, pk in (("gift_cards", card["id"]), ("markets", market.pk)):
            problem = error(attach(client, type_, pk), 404)
            assert problem["source"] == {"pointer": "/data/relationships/attachable"}
            assert problem["code"] == "RECORD_NOT_FOUND"
            assert problem["meta"]["error"] == "related_not_found"
    for type_, pk in (
        ("gift_cards", "rSnVGKkHSGCYfalfOuae1g"),
        ("markets", "99999999"),
        ("gift_card_recipients", "abc"),
    ):
        assert error(attach(api, type_, pk), 404)
    assert not Attachment.objects.exists()


def test_another_tenants_attachments_are_404s(api, other_api, test_mode_api, market):
    data = attached(api, "markets", market.pk)
    url = f"/api/attachments/{data['id']}"
    body = resource("attachments", {"name": "mine now"}, id_=data["id"])
    for client in (other_api, test_mode_api):
        assert client.get("/api/attachments").doc["data"] == []
        assert error(client.get(url), 404)
        assert error(client.get(f"{url}/attachable"), 404)
        assert error(client.patch(url, body), 404)
        assert error(client.delete(url), 404)
        assert error(client.get(f"/api/markets/{market.pk}/attachments"), 404)
    assert Attachment.objects.get(pk=data["id"]).name == "Terms"


def test_moving_to_another_tenants_row_is_refused(api, other_api, market):
    data = attached(api, "markets", market.pk)
    foreign = other_api.post(
        "/api/markets", resource("markets", {"name": "X", "currency_code": "USD"})
    )
    body = resource(
        "attachments",
        {"name": "moved"},
        {"attachable": {"type": "markets", "id": foreign.doc["data"]["id"]}},
        id_=data["id"],
    )
    assert error(api.patch(f"/api/attachments/{data['id']}", body), 404)
    stored = Attachment.objects.get(pk=data["id"])
    assert (stored.name, stored.attachable_id) == ("Terms", str(market.pk))


@pytest.mark.parametrize(
    "params,expected",
    [
        ({"filter[name]": "b"}, ["b"]),
        ({"filter[attachable_type]": "markets"}, ["a"]),
        ({"filter[q][name_in]": "a,b"}, ["a", "b"]),
        ({"filter[metadata]": '{"k": 2}'}, ["b"]),
        ({"sort": "-name"}, ["b", "a"]),
    ],
)
def test_attachments_filter_and_sort(api, market, recipient, params, expected):
    attached(api, "markets", market.pk, name="a", metadata={"k": 1})
    attached(api, "gift_card_recipients", recipient.pk, name="b", metadata={"k": 2})
    response = api.get("/api/attachments", params)
    assert [a["attributes"]["name"] for a in response.doc["data"]] == expected


def test_attachments_filter_by_attachable(api, market, recipient):
    attached(api, "markets", market.pk, name="a")
    attached(api, "gift_card_recipients", recipient.pk, name="b")
    params = {"filter[attachable_type]": "markets", "filter[attachable_id]": str(market.pk)}
    assert [a["attributes"]["name"] for a in api.get("/api/attachments", params).doc["data"]] == [
        "a"
    ]
    assert error(api.get("/api/attachments", {"filter[attachable_type]": "tags"}), 400)


# ---------------------------------------------------------------------------- attachable side


def test_a_cards_attachments_route_and_linkage(api, create_card):
    card = create_card()
    other = create_card()
    first = attached(api, "gift_cards", card["id"], name="one")
    second = attached(api, "gift_cards", card["id"], name="two")
    attached(api, "gift_cards", other["id"], name="elsewhere")
    base = card_url(card["id"])
    response = api.get(f"{base}/attachments", {"page[size]": 1, "page[number]": 2})
    assert [a["id"] for a in response.doc["data"]] == [second["id"]]
    assert response.doc["meta"] == {"record_count": 2, "page_count": 2}
    linkage = api.get(f"{base}/relationships/attachments").doc
    assert linkage["data"] == [
        {"type": "attachments", "id": first["id"]},
        {"type": "attachments", "id": second["id"]},
    ]
    assert linkage["links"]["related"] == f"http://testserver{base}/attachments"
    assert error(api.get(f"{base}/attachments", {"include": "attachable"}), 400)
    assert error(api.get(f"{base}/relationships/attachments", {"include": "x"}), 400)
    assert error(api.patch(f"{base}/relationships/attachments", {"data": []}), 403)


def test_include_attachments_on_cards(api, create_card):
    card = create_card()
    bare = create_card()
    data = attached(api, "gift_cards", card["id"])
    listing = api.get("/api/gift_cards", {"include": "attachments,market"}).doc
    relationships = {c["id"]: c["relationships"]["attachments"] for c in listing["data"]}
    assert relationships[card["id"]]["data"] == [{"type": "attachments", "id": data["id"]}]
    assert relationships[bare["id"]]["data"] == []
    assert relationships[card["id"]]["links"]["related"].endswith(f"{card['id']}/attachments")
    assert listing["included"] == [data]
    detail = api.get(card_url(card["id"]), {"include": "attachments"}).doc
    assert detail["data"]["relationships"]["attachments"]["data"] == [
        {"type": "attachments", "id": data["id"]}
    ]
    assert detail["included"] == [data]
    # Without the include, links only: nothing is claimed that was not read.
    assert "data" not in api.get(card_url(card["id"])).doc["data"]["relationships"]["attachments"]


def test_include_attachments_on_card_writes(api, create_card):
    card = create_card(status="active")
    data = attached(api, "gift_cards", card["id"])
    response = api.patch(
        card_url(card["id"]),
        resource("gift_cards", {"_balance_change_cents": -100}, id_=card["id"]),
        params={"include": "attachments"},
    )
    assert response.status_code == 200, response.doc
    assert response.doc["data"]["relationships"]["attachments"]["data"] == [
        {"type": "attachments", "id": data["id"]}
    ]
    assert response.doc["included"] == [data]
    created = api.post(
        "/api/gift_cards",
        resource("gift_cards", {"balance_cents": 1}),
        params={"include": "attachments"},
    )
    assert created.status_code == 201, created.doc
    assert created.doc["data"]["relationships"]["attachments"]["data"] == []
    assert created.doc["included"] == []


def test_a_cards_attachments_linkage_sent_back_unchanged_is_accepted(api, create_card):
    card = create_card()
    attached(api, "gift_cards", card["id"])
    linkage = api.get(f"{card_url(card['id'])}/relationships/attachments").doc["data"]
    response = patch_card(api, card["id"], {"reference": "x"}, {"attachments": linkage})
    assert response.status_code == 200, response.doc
    for changed in ([], linkage * 2, [{"type": "attachments", "id": "0"}]):
        response = patch_card(api, card["id"], {"reference": "y"}, {"attachments": changed})
        assert error(response, 403)["source"] == {"pointer": "/data/relationships/attachments"}
    assert Attachment.objects.count() == 1


@pytest.mark.parametrize("type_", ["gift_card_recipients", "markets"])
def test_recipients_and_markets_have_attachments(api, recipient, market, type_):
    row = recipient if type_ == "gift_card_recipients" else market
    data = attached(api, type_, row.pk)
    document = api.get(f"/api/{type_}/{row.pk}", {"include": "attachments"}).doc
    assert document["data"]["relationships"]["attachments"]["data"] == [
        {"type": "attachments", "id": data["id"]}
    ]
    assert document["included"] == [data]
    listing = api.get(f"/api/{type_}", {"include": "attachments"}).doc
    assert listing["included"] == [data]
    plain = api.get(f"/api/{type_}/{row.pk}").doc["data"]["relationships"]["attachments"]
    assert plain == {
        "links": {
            "self": f"http://testserver/api/{type_}/{row.pk}/relationships/attachments",
            "related": f"http://testserver/api/{type_}/{row.pk}/attachments",
        }
    }
    related = api.get(f"/api/{type_}/{row.pk}/attachments").doc
    assert related["data"] == [data]
    linkage = api.get(f"/api/{type_}/{row.pk}/relationships/attachments").doc["data"]
    assert linkage == [{"type": "attachments", "id": data["id"]}]
    assert error(api.get(f"/api/{type_}/{row.pk}/colours"), 404)
    assert error(api.get(f"/api/{type_}", {"include": "attachable"}), 400)
    body = resource(type_, None, {"attachments": []}, id_=str(row.pk))
    assert error(api.patch(f"/api/{type_}/{row.pk}", body), 400)


def test_an_included_market_shows_no_linkage_it_did_not_read(api, create_card, market):
    attached(api, "markets", market.pk)
    card = create_card(relationships={"market": {"type": "markets", "id": str(market.pk)}})
    document = api.get(card_url(card["id"]), {"include": "attachments,market"}).doc
    [included_market] = [i for i in document["included"] if i["type"] == "markets"]
    assert "data" not in included_market["relationships"]["attachments"]
    assert [i["type"] for i in document["included"]] == ["markets"]


def test_deleting_a_market_or_recipient_deletes_their_attachments(api, market, recipient):
    attached(api, "markets", market.pk)
    attached(api, "gift_card_recipients", recipient.pk)
    assert api.delete(f"/api/markets/{market.pk}").status_code == 204
    assert api.delete(f"/api/gift_card_recipients/{recipient.pk}").status_code == 204
    assert not Attachment.objects.exists()


def test_a_soft_deleted_card_keeps_its_attachments_and_takes_no_more(api, create_card):
    card = create_card()
    data = attached(api, "gift_cards", card["id"])
    assert api.delete(card_url(card["id"])).status_code == 204
    assert [a["id"] for a in api.get("/api/attachments").doc["data"]] == [data["id"]]
    assert api.get(f"/api/attachments/{data['id']}/attachable").doc == {"data": None}
    assert error(attach(api, "gift_cards", card["id"]), 404)
    assert error(api.get(f"{card_url(card['id'])}/attachments"), 404)
