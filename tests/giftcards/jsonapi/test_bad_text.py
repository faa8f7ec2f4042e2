"""Text no store can hold: a NUL character (PostgreSQL refuses it in text and jsonb) or a lone
surrogate (no UTF-8 exists for it). Anywhere in a request document or a filter it is a 400
pointing at it, on both engines, and nothing is written."""

from __future__ import annotations

import json

import pytest

from giftcards.models import BalanceLog, GiftCard, GiftCardRecipient, Tag
from tests.giftcards.jsonapi.conftest import resource
from tests.giftcards.jsonapi.helpers import card_url, error, patch_card, snapshot

NUL, SURROGATE = "\x00", "\ud800"
BAD = pytest.mark.parametrize("bad", [NUL, SURROGATE], ids=["nul", "surrogate"])


def _send(api, method, path, document):
    # json.dumps writes both as \u escapes, the only way they can travel in JSON.
    return api.request(method, path, body=json.dumps(document))


@BAD
@pytest.mark.parametrize(
    "attributes,pointer",
    [
        ({"metadata": {"note": "a{bad}b"}}, "/data/attributes/metadata/note"),
        ({"metadata": {"deep": [1, {"x": "{bad}"}]}}, "/data/attributes/metadata/deep/1/x"),
        ({"metadata": {"k{bad}": 1}}, "/data/attributes/metadata"),
        ({"status": "{bad}"}, "/data/attributes/status"),
        ({"status": "active{bad}"}, "/data/attributes/status"),
        ({"reference": "{bad}"}, "/data/attributes/reference"),
        ({"code": "ABCD-{bad}-EFGH"}, "/data/attributes/code"),
    ],
)
def test_a_new_card_with_bad_text_is_a_400_pointing_at_it(api, bad, attributes, pointer):
    attributes = json.loads(json.dumps(attributes).replace("{bad}", json.dumps(bad)[1:-1]))
    pointer = pointer.replace("{bad}", bad)
    document = resource("gift_cards", {"balance_cents": 1_000, **attributes})

    response = _send(api, "post", "/api/gift_cards", document)

    found = error(response, 400)
    assert (found["code"], found["meta"]["error"]) == ("BAD_REQUEST", "invalid_character")
    assert found["source"] == {"pointer": pointer}
    assert ("NUL" if bad == NUL else "surrogate") in found["detail"]
    assert GiftCard.objects.count() == 0


@BAD
@pytest.mark.parametrize(
    "attributes,pointer",
    [
        ({"metadata": {"note": "{bad}"}}, "/data/attributes/metadata/note"),
        ({"status": "{bad}"}, "/data/attributes/status"),
        ({"_add_tags": "vip,{bad}"}, "/data/attributes/_add_tags"),
        ({"_remove_tags": "{bad}"}, "/data/attributes/_remove_tags"),
        ({"_order_reference": "{bad}"}, "/data/attributes/_order_reference"),
    ],
)
def test_an_update_with_bad_text_is_a_400_and_changes_nothing(
    api, create_card, bad, attributes, pointer
):
    card = create_card(status="active")
    before = snapshot(api, card["id"])
    attributes = json.loads(json.dumps(attributes).replace("{bad}", json.dumps(bad)[1:-1]))
    document = resource("gift_cards", attributes, id_=card["id"])

    response = _send(api, "patch", card_url(card["id"]), document)

    assert error(response, 400)["source"] == {"pointer": pointer}
    assert snapshot(api, card["id"]) == before
    assert Tag.objects.count() == 0


@BAD
def test_a_bad_tag_name_with_a_balance_change_moves_no_money(api, create_card, bad):
    card = create_card(status="active", balance_cents=5_000)

    response = patch_card(api, card["id"], {"_balance_change_cents": -1_000, "_add_tags": bad})

    assert error(response, 400)["source"] == {"pointer": "/data/attributes/_add_tags"}
    assert list(BalanceLog.objects.values_list("kind", flat=True)) == ["issue"]


@BAD
@pytest.mark.parametrize(
    "attributes,pointer",
    [
        ({"email": "a@x.io", "metadata": {"crm": "{bad}"}}, "/data/attributes/metadata/crm"),
        ({"email": "a@x.io", "metadata": {"{bad}": "x"}}, "/data/attributes/metadata"),
        ({"email": "a@x.io", "first_name": "{bad}"}, "/data/attributes/first_name"),
    ],
)
def test_a_recipient_with_bad_text_is_a_400(api, bad, attributes, pointer):
    attributes = json.loads(json.dumps(attributes).replace("{bad}", json.dumps(bad)[1:-1]))
    document = resource("gift_card_recipients", attributes)

    response = _send(api, "post", "/api/gift_card_recipients", document)

    assert error(response, 400)["source"] == {"pointer": pointer.replace("{bad}", bad)}
    assert GiftCardRecipient.objects.count() == 0


@BAD
def test_bad_text_outside_the_attributes_is_a_400_too(api, bad):
    cases = [
        ({"data": {"type": "gift_cards" + bad}}, "/data/type"),
        ({"data": {"type": "gift_cards"}, "meta": {"x": bad}}, "/meta/x"),
        (
            {
                "data": {
                    "type": "gift_cards",
                    "attributes": {"balance_cents": 1},
                    "relationships": {"market": {"data": {"type": "markets", "id": bad}}},
                }
            },
            "/data/relationships/market/data/id",
        ),
    ]
    for document, pointer in cases:
        response = _send(api, "post", "/api/gift_cards", document)
        assert error(response, 400)["source"] == {"pointer": pointer}, document


@BAD
@pytest.mark.parametrize("resource_path", ["/api/gift_cards", "/api/gift_card_recipients"])
def test_a_metadata_filter_with_bad_text_is_a_400_naming_the_parameter(api, bad, resource_path):
    for value in [{"tier": bad}, {bad: "gold"}, {"a": {"b": bad}}]:
        response = api.get(resource_path, params={"filter[metadata]": json.dumps(value)})
        found = error(response, 400)
        assert found["source"] == {"parameter": "filter[metadata]"}, value
        assert found["code"] == "INVALID_FILTER_VALUE"
        assert found["meta"]["error"] == "invalid_character"


@BAD
def test_a_jcont_filter_with_bad_text_is_a_400(api, bad):
    response = api.get(
        "/api/gift_cards", params={"filter[q][metadata_jcont]": json.dumps({"x": bad})}
    )

    assert error(response, 400)["source"] == {"parameter": "filter[q][metadata_jcont]"}
