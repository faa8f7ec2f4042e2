"""Commerce Layer's filters beyond one attribute: relationship attributes (`market_id_eq`,
`tags_name_in`, ...), attributes joined with `_or_`, and the `_any` / `_all` list forms."""

from __future__ import annotations

import pytest

from clients.tenancy import Mode, Tenant
from giftcards import services
from giftcards.models import GiftCardRecipient, Market, Status, Tag


@pytest.fixture
def world(make_card, tenant, actor):
    """Cards A to D (their `reference_origin`): A in market Europe with tags vip and summer, B
    in Europe with summer, C in America with winter, D with no market and no tags."""
    europe = Market.objects.create(
        business=tenant.business, mode=tenant.mode, name="Europe", currency_code="USD"
    )
    america = Market.objects.create(
        business=tenant.business, mode=tenant.mode, name="America", currency_code="USD"
    )
    ann = services.recipient_find_or_create(tenant=tenant, email="Ann@Example.com")
    bob = services.recipient_find_or_create(tenant=tenant, email="bob@shop.io")
    cards = {
        "A": make_card(reference_origin="A", reference="alpha", market=europe, recipient=ann),
        "B": make_card(reference_origin="B", reference="beta", market=europe, status=Status.DRAFT),
        "C": make_card(reference_origin="C", reference="gamma", market=america, recipient=bob),
        "D": make_card(reference_origin="D", reference="delta-alpha", balance_cents=500),
    }
    services.card_set_tags(card=cards["A"], actor=actor, add=["vip", "summer"])
    services.card_set_tags(card=cards["B"], actor=actor, add=["summer"])
    services.card_set_tags(card=cards["C"], actor=actor, add=["winter"])
    tags = {tag.name: tag for tag in Tag.objects.for_tenant(tenant)}
    return {
        "cards": cards,
        "europe": europe,
        "america": america,
        "ann": ann,
        "bob": bob,
        "tags": tags,
    }


def listed(api, params, path="/api/gift_cards") -> list[str]:
    """The labels of the listed cards, in order, with repeats (a row listed twice shows)."""
    response = api.get(path, params)
    assert response.status_code == 200, response.doc
    labels = [item["attributes"]["reference_origin"] for item in response.doc["data"]]
    assert response.doc["meta"]["record_count"] == len(labels)
    return labels


def q(name: str, value) -> dict:
    return {f"filter[q][{name}]": str(value)}


# ---------------------------------------------------------------------------- relationships


@pytest.mark.parametrize(
    "name,value,expected",
    [
        ("market_name_eq", "Europe", "AB"),
        ("market_name_not_eq", "Europe", "CD"),
        ("market_name_cont", "MERIC", "C"),
        ("market_name_start", "eur", "AB"),
        ("market_name_in", "America,Asia", "C"),
        ("market_name_null", "true", "D"),
        ("market_currency_code_eq", "USD", "ABC"),
        ("gift_card_recipient_email_eq", "ann@example.com", "A"),
        ("gift_card_recipient_email_cont", "SHOP", "C"),
        ("gift_card_recipient_email_end", ".io", "C"),
        ("gift_card_recipient_email_in", "ANN@example.com,bob@shop.io", "AC"),
        ("gift_card_recipient_email_null", "true", "BD"),
        ("gift_card_recipient_email_present", "true", "AC"),
        ("tags_name_eq", "summer", "AB"),
        ("tags_name_in", "vip,summer", "AB"),
        ("tags_name_in", "winter,nothing", "C"),
        ("tags_name_cont", "INT", "C"),
        ("tags_name_start", "su", "AB"),
        ("tags_name_not_eq", "summer", "CD"),
        ("tags_name_not_in", "vip,winter", "BD"),
        ("tags_name_not_cont", "m", "CD"),
        ("tags_id_null", "true", "D"),
        ("tags_id_null", "false", "ABC"),
    ],
)
def test_relationship_attributes(api, world, name, value, expected):
    assert listed(api, q(name, value)) == list(expected)


def test_market_and_recipient_by_id(api, world):
    europe, america = world["europe"].pk, world["america"].pk
    assert listed(api, q("market_id_eq", europe)) == ["A", "B"]
    assert listed(api, q("market_id_in", f"{europe},{america}")) == ["A", "B", "C"]
    assert listed(api, q("market_id_not_eq", europe)) == ["C", "D"]
    assert listed(api, q("market_id_null", "true")) == ["D"]
    assert listed(api, q("gift_card_recipient_id_eq", world["bob"].pk)) == ["C"]
    assert listed(api, q("gift_card_recipient_id_in", world["ann"].pk)) == ["A"]


def test_tags_by_id(api, world):
    tags = world["tags"]
    assert listed(api, q("tags_id_eq", tags["vip"].pk)) == ["A"]
    assert listed(api, q("tags_id_in", f"{tags['vip'].pk},{tags['summer'].pk}")) == ["A", "B"]
    assert listed(api, q("tags_id_not_eq", tags["summer"].pk)) == ["C", "D"]


def test_a_card_with_two_matching_tags_is_listed_once(api, world):
    """The tags are matched in a subquery: no join repeats a card, pages and counts are
    right."""
    both = f"{world['tags']['vip'].pk},{world['tags']['summer'].pk}"
    assert listed(api, q("tags_id_in", both)) == ["A", "B"]
    page = api.get("/api/gift_cards", {**q("tags_name_in", "vip,summer"), "page[size]": 1})
    assert [item["attributes"]["reference_origin"] for item in page.doc["data"]] == ["A"]
    response = api.get("/api/gift_cards", {**q("tags_name_cont", "e"), "page[size]": 1})
    assert response.doc["meta"] == {"record_count": 3, "page_count": 3}


def test_tags_all_are_the_cards_with_every_tag(api, world):
    assert listed(api, q("tags_name_eq_all", "vip,summer")) == ["A"]
    assert listed(api, q("tags_name_eq_any", "vip,winter")) == ["A", "C"]
    ids = f"{world['tags']['vip'].pk},{world['tags']['winter'].pk}"
    assert listed(api, q("tags_id_eq_all", ids)) == []


def test_the_short_form_works_for_relationship_attributes(api, world):
    assert listed(api, {"filter[market_name]": "Europe"}) == ["A", "B"]
    assert listed(api, {"filter[tags_name]": "summer"}) == ["A", "B"]


def test_a_tag_or_market_of_another_business_or_mode_matches_nothing(
    api, world, other_business, business, make_card, actor
):
    """Filters only narrow the key's own cards: another tenant's ids find nothing, even
    where the other tenant's rows carry the same names."""
    others = (
        Tenant(business=other_business, mode=Mode.LIVE),
        Tenant(business=business, mode=Mode.TEST),
    )
    for tenant in others:
        theirs = Tag.objects.create(business=tenant.business, mode=tenant.mode, name="summer")
        market = Market.objects.create(
            business=tenant.business, mode=tenant.mode, name="Europe", currency_code="USD"
        )
        recipient = GiftCardRecipient.objects.create(
            business=tenant.business, mode=tenant.mode, email="ann@example.com"
        )
        card = services.card_issue(
            tenant=tenant,
            actor=actor,
            balance_cents=100,
            currency_code="USD",
            reference_origin="THEIRS",
            market=market,
            recipient=recipient,
        )
        services.card_set_tags(card=card, actor=actor, add=["summer"])
        assert listed(api, q("tags_id_eq", theirs.pk)) == []
        assert listed(api, q("tags_id_in", f"{theirs.pk},{world['tags']['vip'].pk}")) == ["A"]
        assert listed(api, q("market_id_eq", market.pk)) == []
        assert listed(api, q("gift_card_recipient_id_eq", recipient.pk)) == []
        assert listed(api, q("tags_name_eq", "summer")) == ["A", "B"]
        assert listed(api, q("market_name_eq", "Europe")) == ["A", "B"]
        assert listed(api, q("gift_card_recipient_email_eq", "ann@example.com")) == ["A"]


def test_tag_filters_cost_no_query_per_card(
    api, world, make_card, actor, django_assert_max_num_queries
):
    for n in range(20):
        card = make_card(reference_origin=f"E{n}")
        services.card_set_tags(card=card, actor=actor, add=["vip", "summer", f"t{n}"])
    api.get("/api/tags")  # the key's first use of the minute is recorded, not a list cost
    params = {
        **q("tags_name_in", "vip,summer"),
        **q("tags_id_null", "false"),
        **q("reference_origin_or_market_name_cont", "e"),
        "include": "tags,market,gift_card_recipient",
        "page[size]": 25,
    }
    # API key, count, cards (with recipient and market), ledger rows, tags.
    with django_assert_max_num_queries(5):
        response = api.get("/api/gift_cards", params)
    ids = [item["id"] for item in response.doc["data"]]
    assert len(ids) == len(set(ids)) == response.doc["meta"]["record_count"] == 22


# ---------------------------------------------------------------------------- _or_


@pytest.mark.parametrize(
    "name,value,expected",
    [
        ("reference_or_reference_origin_cont", "a", "ABCD"),
        ("reference_or_reference_origin_eq", "B", "B"),
        ("reference_or_reference_origin_eq", "gamma", "C"),
        ("reference_origin_or_reference_start", "del", "D"),
        ("reference_or_market_name_cont", "MERIC", "C"),
        ("reference_or_market_name_eq", "beta", "B"),
        ("market_name_or_tags_name_eq", "winter", "C"),
        ("market_name_or_tags_name_eq", "Europe", "AB"),
        ("reference_or_gift_card_recipient_email_cont", "shop", "C"),
        ("reference_or_reference_origin_cont_any", "alp,C", "ACD"),
        ("reference_or_reference_origin_not_eq", "alpha", "ABCD"),
        ("balance_cents_or_initial_balance_cents_lt", "1000", "D"),
        ("created_at_or_updated_at_gt", "2000-01-01", "ABCD"),
    ],
)
def test_attributes_joined_with_or(api, world, name, value, expected):
    assert listed(api, q(name, value)) == list(expected)


@pytest.mark.parametrize(
    "name,value,words",
    [
        ("reference_or_nope_cont", "a", ["'nope' cannot be filtered", "reference_origin"]),
        ("nope_or_reference_cont", "a", ["'nope' cannot be filtered"]),
        ("reference_or__cont", "a", ["cannot be filtered"]),
        ("reference_or_balance_cents_eq", "1", ["same kind of value", "balance_cents (integer)"]),
        ("reference_or_status_cont", "a", ["'cont' is not available for 'status'"]),
        ("reference_or_reference_cont", "a", ["named twice"]),
        ("code_or_reference_eq", "a", ["'code' cannot be joined"]),
        ("metadata_or_reference_jcont", '{"a":1}', ["'jcont' is not available"]),
        ("reference_or_reference_origin_nope", "a", ["is not <attribute>_<predicate>"]),
    ],
)
def test_bad_or_names_are_400s_naming_the_parameter(api, world, name, value, words):
    response = api.get("/api/gift_cards", q(name, value))
    assert response.status_code == 400, response.doc
    (found,) = response.doc["errors"]
    assert found["source"] == {"parameter": f"filter[q][{name}]"}
    for word in words:
        assert word in found["detail"]


def test_joined_choices_take_a_value_of_either(api, world):
    # status is the only choice attribute of cards: joined with itself it is refused, and
    # a value outside its choices is a 400 naming the parameter.
    response = api.get("/api/gift_cards", q("status_eq_any", "active,lost"))
    assert response.status_code == 400
    assert response.doc["errors"][0]["source"] == {"parameter": "filter[q][status_eq_any]"}


# ---------------------------------------------------------------------------- _any, _all


@pytest.mark.parametrize(
    "name,value,expected",
    [
        ("reference_cont_any", "alp,gam", "ACD"),
        ("reference_cont_all", "alp,del", "D"),
        ("reference_not_cont_any", "alp,eta", "ABCD"),
        ("reference_not_cont_all", "alp,eta", "C"),
        ("reference_start_any", "be,ga", "BC"),
        ("reference_start_all", "a,al", "A"),
        ("reference_not_start_any", "a,b", "ABCD"),
        ("reference_not_start_all", "a,b", "CD"),
        ("reference_end_any", "ta,ma", "BC"),
        ("reference_end_all", "pha,ha", "AD"),
        ("reference_not_end_any", "pha,ta", "ABCD"),
        ("reference_not_end_all", "pha,ta", "C"),
        ("reference_eq_any", "alpha,beta", "AB"),
        ("reference_eq_all", "alpha,beta", ""),
        ("reference_not_eq_any", "alpha,beta", "ABCD"),
        ("reference_not_eq_all", "alpha,beta", "CD"),
        ("status_not_eq_all", "draft,inactive", "ACD"),
        ("status_eq_any", "draft,inactive", "B"),
        ("balance_cents_lt_any", "600,1", "D"),
        ("balance_cents_lt_all", "600,1", ""),
        ("balance_cents_gt_any", "600,20000", "ABC"),
        ("balance_cents_gteq_all", "500,10000", "ABC"),
        ("balance_cents_lteq_any", "500,1", "D"),
        ("created_at_gt_all", "2000-01-01,2001-01-01", "ABCD"),
        ("gift_card_recipient_email_end_any", ".io,.org", "C"),
        ("market_name_eq_any", "America,Asia", "C"),
        ("tags_name_start_any", "vi,wi", "AC"),
        ("tags_name_not_eq_all", "vip,winter", "BD"),
    ],
)
def test_any_and_all(api, world, name, value, expected):
    assert listed(api, q(name, value)) == list(expected)


@pytest.mark.parametrize(
    "name,value",
    [
        ("status_in_any", "draft"),
        ("status_null_all", "true"),
        ("metadata_jcont_any", '{"a":1}'),
        ("single_use_true_any", "true"),
    ],
)
def test_any_and_all_only_go_with_single_value_predicates(api, world, name, value):
    response = api.get("/api/gift_cards", q(name, value))
    assert response.status_code == 400, response.doc
    assert response.doc["errors"][0]["source"] == {"parameter": f"filter[q][{name}]"}


@pytest.mark.parametrize(
    "name,value",
    [
        ("balance_cents_lt_any", "1,x"),
        ("created_at_gt_all", "2020-01-01,yesterday"),
        ("status_not_eq_all", "draft,lost"),
        ("reference_cont_any", "a,,b"),
        ("reference_cont_any", ",".join("x" * 21)),
    ],
)
def test_a_bad_value_in_a_list_is_a_400(api, world, name, value):
    response = api.get("/api/gift_cards", q(name, value))
    assert response.status_code == 400, response.doc
    assert {e["source"]["parameter"] for e in response.doc["errors"]} == {f"filter[q][{name}]"}


# ---------------------------------------------------------------------------- other lists


def test_recipients_take_or_any_and_all(api, world, tenant):
    services.recipient_find_or_create(tenant=tenant, email="cy@example.org")
    GiftCardRecipient.objects.filter(email="bob@shop.io").update(first_name="Anna")

    def emails(params):
        response = api.get("/api/gift_card_recipients", params)
        assert response.status_code == 200, response.doc
        return [item["attributes"]["email"] for item in response.doc["data"]]

    assert emails(q("email_or_first_name_start", "ann")) == ["Ann@Example.com", "bob@shop.io"]
    assert emails(q("email_end_any", ".io,.org")) == ["bob@shop.io", "cy@example.org"]
    assert emails(q("email_not_cont_all", "shop,example.org")) == ["Ann@Example.com"]
    bad = api.get("/api/gift_card_recipients", q("email_or_nope_cont", "a"))
    assert bad.status_code == 400
    assert bad.doc["errors"][0]["source"] == {"parameter": "filter[q][email_or_nope_cont]"}


def test_topics_take_or_any_and_all_too(api):
    """The topics are rows held in memory: the same names, matched in Python."""

    def names(params):
        response = api.get("/api/events", {**params, "page[size]": 25})
        assert response.status_code == 200, response.doc
        return {item["attributes"]["name"] for item in response.doc["data"]}

    assert names(q("name_end_any", ".activate,.purchase")) == {
        "gift_cards.activate",
        "gift_cards.purchase",
    }
    assert names(q("name_start_all", "gift_cards,gift_cards.d")) == {
        "gift_cards.deactivate",
        "gift_cards.destroy",
    }
    assert "gift_cards.create" not in names(q("name_not_cont", "create"))
    assert names(q("id_or_name_eq", "gift_cards.redeem")) == {"gift_cards.redeem"}
