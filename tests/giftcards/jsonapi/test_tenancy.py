"""Another business's or another mode's rows are 404s on every route, and never included."""

from __future__ import annotations

import pytest

from giftcards import services
from giftcards.models import GiftCardRecipient, Market, Tag
from tests.giftcards.jsonapi.conftest import resource
from tests.giftcards.jsonapi.helpers import card_url, patch_card


@pytest.fixture
def owned(api, tenant, actor, make_card):
    """A live card of `business` with a market, a recipient, a tag and a few versions."""
    market = Market.objects.create(
        business=tenant.business, mode=tenant.mode, name="US", currency_code="USD"
    )
    recipient = GiftCardRecipient.objects.create(
        business=tenant.business, mode=tenant.mode, email="ann@example.com"
    )
    card = make_card(market=market, recipient=recipient)
    services.card_set_tags(card=card, actor=actor, add=["vip"])
    tag = Tag.objects.get(name="vip")
    version = card.versions.order_by("history_id").first()
    return {
        "card": card,
        "market": market,
        "recipient": recipient,
        "tag": tag,
        "version": version,
    }


def routes(owned) -> list[tuple[str, str, dict | None]]:
    card = owned["card"].pk
    update = resource("gift_cards", {"reference": "x"}, id_=card)
    return [
        ("get", card_url(card), None),
        ("patch", card_url(card), update),
        ("delete", card_url(card), None),
        ("get", f"{card_url(card)}/market", None),
        ("get", f"{card_url(card)}/gift_card_recipient", None),
        ("get", f"{card_url(card)}/tags", None),
        ("get", f"{card_url(card)}/versions", None),
        ("get", f"{card_url(card)}/relationships/market", None),
        ("get", f"{card_url(card)}/relationships/gift_card_recipient", None),
        ("get", f"{card_url(card)}/relationships/tags", None),
        ("get", f"/api/versions/{owned['version'].history_id}", None),
        ("get", f"/api/markets/{owned['market'].pk}", None),
        (
            "patch",
            f"/api/markets/{owned['market'].pk}",
            resource("markets", {"name": "x"}, id_=str(owned["market"].pk)),
        ),
        ("delete", f"/api/markets/{owned['market'].pk}", None),
        ("get", f"/api/gift_card_recipients/{owned['recipient'].pk}", None),
        (
            "patch",
            f"/api/gift_card_recipients/{owned['recipient'].pk}",
            resource("gift_card_recipients", {"first_name": "x"}, id_=str(owned["recipient"].pk)),
        ),
        ("delete", f"/api/gift_card_recipients/{owned['recipient'].pk}", None),
        ("get", f"/api/tags/{owned['tag'].pk}", None),
        (
            "patch",
            f"/api/tags/{owned['tag'].pk}",
            resource("tags", {"name": "x"}, id_=str(owned["tag"].pk)),
        ),
        ("delete", f"/api/tags/{owned['tag'].pk}", None),
    ]


@pytest.mark.parametrize("stranger", ["other_api", "test_mode_api"])
def test_every_route_is_a_404_for_another_business_or_mode(request, api, owned, stranger):
    client = request.getfixturevalue(stranger)
    for method, path, body in routes(owned):
        kwargs = {"body": body} if body is not None else {}
        response = client.request(method, path, **kwargs)
        assert response.status_code == 404, (method, path, response.doc)
        assert response.doc["errors"][0]["code"] == "RECORD_NOT_FOUND"
    # ... and nothing changed for the owner.
    for method, path, _ in routes(owned):
        if method == "get":
            assert api.get(path).status_code == 200, path


@pytest.mark.parametrize("stranger", ["other_api", "test_mode_api"])
def test_lists_and_includes_show_only_the_keys_rows(request, owned, stranger):
    client = request.getfixturevalue(stranger)
    client.post("/api/gift_cards", resource("gift_cards", {"balance_cents": 1}))
    for path in ("/api/gift_cards", "/api/gift_card_recipients", "/api/markets", "/api/tags"):
        data = client.get(path).doc["data"]
        assert all(
            item["id"] not in {str(owned[k].pk) for k in owned if k != "version"} for item in data
        )
    response = client.get("/api/gift_cards", {"include": "gift_card_recipient,market,tags"})
    assert len(response.doc["data"]) == 1
    assert response.doc["included"] == []
    assert client.get("/api/gift_cards", {"filter[id]": owned["card"].pk}).doc["data"] == []


@pytest.mark.parametrize("stranger", ["other_api", "test_mode_api"])
def test_relationships_to_another_tenants_rows_are_404s(request, owned, stranger):
    client = request.getfixturevalue(stranger)
    mine = client.post("/api/gift_cards", resource("gift_cards", {"balance_cents": 1})).doc
    card_id = mine["data"]["id"]
    for name, type_, key in (
        ("market", "markets", "market"),
        ("gift_card_recipient", "gift_card_recipients", "recipient"),
    ):
        linkage = {"type": type_, "id": str(owned[key].pk)}
        response = patch_card(client, card_id, None, {name: linkage})
        assert response.status_code == 404, response.doc
        assert response.doc["errors"][0]["source"]["pointer"] == f"/data/relationships/{name}"
        response = client.post(
            "/api/gift_cards", resource("gift_cards", {"balance_cents": 1}, {name: linkage})
        )
        assert response.status_code == 404


def test_recipient_email_is_per_business_and_mode(api, other_api, test_mode_api, owned):
    for client in (other_api, test_mode_api):
        response = client.post(
            "/api/gift_cards",
            resource("gift_cards", {"balance_cents": 1, "recipient_email": "ANN@example.com"}),
        )
        linkage = response.doc["data"]["relationships"]["gift_card_recipient"]["data"]
        assert linkage["id"] != str(owned["recipient"].pk)
    assert GiftCardRecipient.objects.filter(email__iexact="ann@example.com").count() == 3


def test_modes_are_reported(api, test_mode_api):
    live = api.post("/api/gift_cards", resource("gift_cards", {"balance_cents": 1})).doc
    test = test_mode_api.post("/api/gift_cards", resource("gift_cards", {"balance_cents": 1})).doc
    assert live["data"]["meta"] == {"mode": "live"}
    assert test["data"]["meta"] == {"mode": "test"}


def test_same_code_may_not_be_reused_across_modes_of_one_business(api, test_mode_api):
    # The database constraint is per business (both modes): a test card cannot take a code
    # that a live card has.
    api.post("/api/gift_cards", resource("gift_cards", {"balance_cents": 1, "code": "MODE-CODE-1"}))
    response = test_mode_api.post(
        "/api/gift_cards", resource("gift_cards", {"balance_cents": 1, "code": "MODE-CODE-1"})
    )
    assert response.status_code == 409
