"""A list costs a constant number of queries, whatever the page size and the includes."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from giftcards import services
from giftcards.models import GiftCardRecipient, Market, Tag

INCLUDES = "gift_card_recipient,market,tags"


@pytest.fixture
def busy_cards(make_card, tenant, actor):
    """25 cards with a recipient, a market, two tags and a few ledger rows each."""
    market = Market.objects.create(
        business=tenant.business, mode=tenant.mode, name="US", currency_code="USD"
    )
    for n in range(25):
        recipient = GiftCardRecipient.objects.create(
            business=tenant.business, mode=tenant.mode, email=f"r{n}@example.com"
        )
        card = make_card(recipient=recipient, market=market)
        services.card_debit(card=card, amount_cents=100, actor=actor, order_reference=f"o{n}")
        services.card_recharge(card=card, amount_cents=50, actor=actor)
        services.card_set_tags(card=card, actor=actor, add=[f"t{n}", "shared"])


@pytest.fixture(autouse=True)
def warm_key(api, busy_cards):
    """The first call of a key records `last_used_at` (then once a minute): not a list cost."""
    api.get("/api/tags")


def count_queries(api, path, params) -> int:
    with CaptureQueriesContext(connection) as queries:
        response = api.get(path, params)
    assert response.status_code == 200, response.doc
    return len(queries)


def test_page_of_25_cards_with_includes_costs_the_same_as_a_page_of_1(
    api, busy_cards, django_assert_max_num_queries
):
    one = count_queries(api, "/api/gift_cards", {"page[size]": 1, "include": INCLUDES})
    with django_assert_max_num_queries(one) as captured:
        response = api.get("/api/gift_cards", {"page[size]": 25, "include": INCLUDES})
    assert len(captured) == one
    assert len(response.doc["data"]) == 25
    assert {item["type"] for item in response.doc["included"]} == {
        "gift_card_recipients",
        "markets",
        "tags",
    }
    assert len(response.doc["included"]) == 25 + 1 + 26
    # API key, count, cards (with recipient and market), ledger rows, tags.
    assert one == 5, [query["sql"] for query in captured.captured_queries]


def test_single_card_with_includes_is_constant_too(api, busy_cards, django_assert_max_num_queries):
    card_id = api.get("/api/gift_cards", {"page[size]": 1}).doc["data"][0]["id"]
    with django_assert_max_num_queries(5):
        api.get(f"/api/gift_cards/{card_id}", {"include": INCLUDES})


@pytest.mark.parametrize("path", ["/api/gift_card_recipients", "/api/tags", "/api/markets"])
def test_other_lists_are_constant(api, busy_cards, path):
    one = count_queries(api, path, {"page[size]": 1})
    assert count_queries(api, path, {"page[size]": 25}) == one


def test_versions_list_is_constant(api, busy_cards):
    card_id = api.get("/api/gift_cards", {"page[size]": 1}).doc["data"][0]["id"]
    path = f"/api/gift_cards/{card_id}/versions"
    assert count_queries(api, path, {"page[size]": 1}) == count_queries(
        api, path, {"page[size]": 25}
    )


def test_tags_model_rows(busy_cards, tenant):
    assert Tag.objects.for_tenant(tenant).count() == 26
