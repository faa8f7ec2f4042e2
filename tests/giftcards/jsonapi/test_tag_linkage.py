"""A card's tags by relationship, as Commerce Layer's clients set them: `relationships.tags`
on create and update (an update replaces the card's tags), beside `_add_tags` and
`_remove_tags`; and tag names that follow Commerce Layer's rule."""

from __future__ import annotations

import pytest

from clients.tenancy import Mode
from giftcards import exceptions, services
from giftcards.models import GiftCard, Tag
from tests.giftcards.jsonapi.conftest import resource
from tests.giftcards.jsonapi.helpers import card_url, patch_card, snapshot


@pytest.fixture
def tags(tenant):
    return {
        name: Tag.objects.create(business=tenant.business, mode=tenant.mode, name=name)
        for name in ("summer", "vip", "winter")
    }


def linkage(*tags: Tag) -> list[dict]:
    return [{"type": "tags", "id": str(tag.pk)} for tag in tags]


def tag_names(card_id: str) -> list[str]:
    return sorted(GiftCard.objects.get(pk=card_id).tags.values_list("name", flat=True))


def versions(card_id: str) -> int:
    return GiftCard.history.filter(id=card_id).count()


def one_error(response) -> dict:
    assert 400 <= response.status_code < 500, response.doc
    (found,) = response.doc["errors"]
    return found


# ---------------------------------------------------------------------------- create


def test_a_card_is_created_with_tags_by_relationship(api, tags):
    body = resource(
        "gift_cards",
        {"balance_cents": 1_000},
        {"tags": linkage(tags["vip"], tags["summer"], tags["vip"])},
    )
    response = api.post("/api/gift_cards", body, {"include": "tags"})
    assert response.status_code == 201, response.doc
    data = response.doc["data"]
    assert data["relationships"]["tags"]["data"] == linkage(tags["summer"], tags["vip"])
    assert {item["attributes"]["name"] for item in response.doc["included"]} == {"summer", "vip"}
    assert tag_names(data["id"]) == ["summer", "vip"]
    read = api.get(card_url(data["id"])).doc["data"]["relationships"]["tags"]["data"]
    assert read == linkage(tags["summer"], tags["vip"])


@pytest.mark.parametrize("where", ["other business", "test mode"])
def test_a_tag_the_key_cannot_see_is_a_404_on_the_relationship(
    api, tags, other_business, business, where
):
    owner = other_business if where == "other business" else business
    mode = Mode.LIVE if where == "other business" else Mode.TEST
    theirs = Tag.objects.create(business=owner, mode=mode, name="theirs")
    body = resource("gift_cards", {"balance_cents": 1_000}, {"tags": linkage(tags["vip"], theirs)})
    response = api.post("/api/gift_cards", body)
    assert response.status_code == 404, response.doc
    assert one_error(response)["source"] == {"pointer": "/data/relationships/tags"}
    assert not GiftCard.objects.exists()


@pytest.mark.parametrize(
    "value,status",
    [
        ([{"type": "markets", "id": "1"}], 409),
        ([{"type": "tags", "id": "999999"}], 404),
        ([{"type": "tags", "id": "abc"}], 400),
        ([{"type": "tags"}], 400),
        ([{"type": "tags", "id": str(n)} for n in range(101)], 400),
        ({"type": "tags", "id": "1"}, 400),
    ],
)
def test_bad_tags_linkage_is_refused(api, tags, value, status):
    response = api.post(
        "/api/gift_cards", resource("gift_cards", {"balance_cents": 1}, {"tags": value})
    )
    assert response.status_code // 100 == 4 and response.status_code in (status, 422)
    assert one_error(response)["source"]["pointer"].startswith("/data/relationships/tags")
    assert not GiftCard.objects.exists()


# ---------------------------------------------------------------------------- update


def test_a_patch_with_tags_linkage_replaces_the_cards_tags(api, create_card, tags):
    card = create_card(relationships={"tags": linkage(tags["vip"], tags["summer"])})
    before = versions(card["id"])

    response = patch_card(api, card["id"], None, {"tags": linkage(tags["winter"])})

    assert response.status_code == 200, response.doc
    assert response.doc["data"]["relationships"]["tags"]["data"] == linkage(tags["winter"])
    assert tag_names(card["id"]) == ["winter"]
    assert versions(card["id"]) == before + 1
    assert GiftCard.objects.get(pk=card["id"]).modified_by == "pos-1"

    cleared = patch_card(api, card["id"], None, {"tags": []})
    assert cleared.doc["data"]["relationships"]["tags"]["data"] == []
    assert tag_names(card["id"]) == []
    assert Tag.objects.count() == 3  # the tags stay; the card lost them


def test_the_same_linkage_changes_nothing(api, create_card, tags):
    card = create_card(relationships={"tags": linkage(tags["vip"])})
    before = versions(card["id"])
    response = patch_card(api, card["id"], {}, {"tags": linkage(tags["vip"])})
    assert response.status_code == 200, response.doc
    assert versions(card["id"]) == before
    assert tag_names(card["id"]) == ["vip"]


def test_linkage_and_add_tags_write_the_same_history(api, create_card, tags):
    """A change of tags by relationship is the same change as one by name: one version of
    the card, stamped with who made it."""
    by_name, by_link = create_card(), create_card()
    patch_card(api, by_name["id"], {"_add_tags": "vip"})
    patch_card(api, by_link["id"], None, {"tags": linkage(tags["vip"])})
    for card in (by_name, by_link):
        history = GiftCard.history.filter(id=card["id"]).order_by("history_date")
        assert [row.history_type for row in history] == ["+", "~"]
        assert history.last().modified_by == "pos-1"
    shown = [
        api.get(f"{card_url(card['id'])}/versions").doc["data"][-1]["attributes"]["changes"]
        for card in (by_name, by_link)
    ]
    assert shown[0] == shown[1]


def test_linkage_then_add_and_remove_tags_in_one_patch(api, create_card, tags):
    card = create_card(relationships={"tags": linkage(tags["vip"])})
    response = patch_card(
        api,
        card["id"],
        {"_add_tags": "spring", "_remove_tags": "summer"},
        {"tags": linkage(tags["summer"], tags["winter"])},
    )
    assert response.status_code == 200, response.doc
    assert tag_names(card["id"]) == ["spring", "winter"]


def test_a_foreign_tag_on_update_is_a_404_and_changes_nothing(
    api, create_card, tags, other_business
):
    card = create_card(relationships={"tags": linkage(tags["vip"])})
    theirs = Tag.objects.create(business=other_business, mode=Mode.LIVE, name="theirs")
    before = snapshot(api, card["id"])

    response = patch_card(
        api, card["id"], {"reference": "changed"}, {"tags": linkage(tags["winter"], theirs)}
    )

    assert response.status_code == 404, response.doc
    assert one_error(response)["source"] == {"pointer": "/data/relationships/tags"}
    assert snapshot(api, card["id"]) == before
    assert tag_names(card["id"]) == ["vip"]


def test_the_service_refuses_a_tag_of_another_tenant(make_card, actor, other_business):
    """The API resolves tags within the key's tenant; the service checks again."""
    card = make_card()
    theirs = Tag.objects.create(business=other_business, mode=Mode.LIVE, name="theirs")
    with pytest.raises(exceptions.GiftCardError, match="does not exist"):
        services.card_set_tags(card=card, actor=actor, replace=[theirs])
    assert tag_names(card.pk) == []


# ---------------------------------------------------------------------------- names


@pytest.mark.parametrize("bad", ["summer sale", "caf\u00e9", "t" * 26, "vip!"])
def test_add_tags_refuses_a_new_name_that_breaks_the_rule(api, create_card, bad):
    card = create_card()
    before = snapshot(api, card["id"])
    response = patch_card(api, card["id"], {"_add_tags": f"vip,{bad}"})
    assert response.status_code in (400, 422), response.doc
    found = one_error(response)
    assert found["source"] == {"pointer": "/data/attributes/_add_tags"}
    assert "letter" in found["detail"]
    assert snapshot(api, card["id"]) == before
    assert not Tag.objects.exists()


def test_add_tags_still_takes_a_name_stored_before_the_rule(api, create_card, tenant):
    Tag.objects.create(business=tenant.business, mode=tenant.mode, name="summer sale")
    card = create_card()
    response = patch_card(api, card["id"], {"_add_tags": "summer sale,vip"})
    assert response.status_code == 200, response.doc
    assert tag_names(card["id"]) == ["summer sale", "vip"]
    removed = patch_card(api, card["id"], {"_remove_tags": "summer sale"})
    assert removed.status_code == 200, removed.doc
    assert tag_names(card["id"]) == ["vip"]


def test_the_tags_endpoint_follows_the_rule(api, tags):
    response = api.post("/api/tags", resource("tags", {"name": "summer sale"}))
    assert response.status_code in (400, 422), response.doc
    assert one_error(response)["source"] == {"pointer": "/data/attributes/name"}
    renamed = api.patch(
        f"/api/tags/{tags['vip'].pk}",
        resource("tags", {"name": "very important"}, id_=str(tags["vip"].pk)),
    )
    assert renamed.status_code in (400, 422), renamed.doc
    ok = api.post("/api/tags", resource("tags", {"name": "season:summer-2025_b"}))
    assert ok.status_code == 201, ok.doc
