"""`POST /api/gift_cards/lookup`: the code filter's answer with the code in the body, so it
never lands in a URL or an access log."""

from __future__ import annotations

import pytest

from giftcards.throttling import CodeLookupThrottle
from tests.giftcards.jsonapi.conftest import resource

LOOKUP = "/api/gift_cards/lookup"
CODE = "K7QM-X2PD-9RTA-WF3H"


@pytest.fixture
def card(make_card):
    return make_card(code=CODE, reference_origin="looked-up")


def lookup(api, code, params=None, **attributes):
    return api.post(LOOKUP, resource("gift_card_lookups", {"code": code, **attributes}), params)


def test_a_lookup_answers_what_the_code_filter_answers(api, card, make_card):
    make_card(reference_origin="another")

    posted = lookup(api, "k7qm x2pd 9rta wf3h", {"include": "tags"})
    filtered = api.get("/api/gift_cards", {"filter[q][code_eq]": CODE, "include": "tags"})

    assert posted.status_code == 200, posted.doc
    assert [item["id"] for item in posted.doc["data"]] == [card.pk]
    assert posted.doc["data"] == filtered.doc["data"]
    assert posted.doc["data"][0]["attributes"]["code"] == CODE


def test_an_unknown_code_is_an_empty_list(api, card):
    response = lookup(api, "ZZZZ-ZZZZ-ZZZZ-ZZZ9")

    assert response.status_code == 200
    assert response.doc["data"] == []


def test_a_lookup_sees_only_the_keys_business_and_mode(other_api, test_mode_api, card):
    assert lookup(other_api, CODE).doc["data"] == []
    assert lookup(test_mode_api, CODE).doc["data"] == []


def test_a_lookup_combines_with_the_lists_filters(api, card):
    assert lookup(api, CODE, {"filter[q][status_eq]": card.status}).doc["data"] != []
    assert lookup(api, CODE, {"filter[q][status_eq]": "draft"}).doc["data"] == []


@pytest.mark.parametrize(
    ("body", "pointer"),
    [
        (resource("gift_card_lookups", {}), "/data/attributes/code"),
        (resource("gift_card_lookups", {"code": 12345678}), "/data/attributes/code"),
        (resource("gift_card_lookups", {"code": "  "}), "/data/attributes/code"),
        (resource("gift_card_lookups", {"code": "X" * 81}), "/data/attributes/code"),
        (resource("gift_card_lookups", {"code": CODE, "pin": "1"}), "/data/attributes/pin"),
        (
            resource("gift_card_lookups", {"code": CODE}, {"market": None}),
            "/data/relationships/market",
        ),
        ({"code": CODE}, ""),
    ],
)
def test_malformed_lookups_are_400s_pointing_at_the_member(api, card, body, pointer):
    response = api.post(LOOKUP, body)

    assert response.status_code == 400, response.doc
    assert response.doc["errors"][0]["source"]["pointer"] == pointer


def test_a_lookup_of_another_type_is_a_409(api, card):
    response = api.post(LOOKUP, resource("gift_cards", {"code": CODE}))

    assert response.status_code == 409
    assert response.doc["errors"][0]["source"]["pointer"] == "/data/type"


def test_lookups_need_a_key(anonymous, card):
    assert lookup(anonymous, CODE).status_code == 401


def test_only_post_is_a_lookup(api, card):
    assert api.get(LOOKUP).status_code == 405


def test_lookups_spend_code_lookups(api, card, monkeypatch):
    monkeypatch.setattr(
        CodeLookupThrottle, "THROTTLE_RATES", {"code_lookup": "2/min", "api_key": "1000/min"}
    )
    assert lookup(api, CODE).status_code == 200
    assert api.get("/api/gift_cards", {"filter[q][code_eq]": CODE}).status_code == 200

    response = lookup(api, "ZZZZ-ZZZZ-ZZZZ-ZZZ9")

    assert response.status_code == 429
    assert response.doc["errors"][0]["code"] == "TOO_MANY_REQUESTS"


def test_a_lookup_finds_a_card_written_under_an_old_code_key(api, card, settings):
    """While a key rotation is under way (README: rotating the code key), lookups match a
    code under every configured key, as the code filter does."""
    settings.GIFTCARD_CODE_OLD_KEYS = [settings.GIFTCARD_CODE_KEY]
    settings.GIFTCARD_CODE_KEY = "the next code key, at least thirty-two characters long"

    posted = lookup(api, CODE)
    filtered = api.get("/api/gift_cards", {"filter[q][code_eq]": CODE})

    assert [item["id"] for item in posted.doc["data"]] == [card.pk]
    assert posted.doc["data"] == filtered.doc["data"]
