"""Lists: both filter syntaxes with every predicate, sorting, includes, sparse fieldsets, and
the 400s for everything the endpoint does not understand."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from django.utils import timezone

from clients.tenancy import Actor
from giftcards import services
from giftcards.models import GiftCard, GiftCardRecipient, Status
from giftcards.throttling import CodeLookupThrottle


@pytest.fixture
def cards(make_card, tenant, actor):
    """Three cards, labelled A, B and C in `reference_origin`."""
    soon = timezone.now() + dt.timedelta(days=10)
    ann = services.recipient_find_or_create(tenant=tenant, email="ann@example.com")
    bob = services.recipient_find_or_create(tenant=tenant, email="bob@example.com")
    a = make_card(
        reference_origin="A",
        status=Status.ACTIVE,
        balance_cents=1_000,
        reference="alpha-1",
        single_use=True,
        metadata={"tier": "gold", "n": 1, "nested": {"k": "v", "x": [1, 2]}, "vip": True},
        recipient=ann,
        expires_at=soon,
        code="AAK7-BBQ3-CCW9",
    )
    b = make_card(
        reference_origin="B",
        status=Status.DRAFT,
        balance_cents=5_000,
        reference="beta-2",
        metadata={"tier": "silver", "vip": False, "0": "zero"},
        balance_max_cents=10_000,
        code="DDM4-EER6-FFT8",
    )
    c = make_card(reference_origin="C", status=Status.INACTIVE, balance_cents=9_000, recipient=bob)
    return {"A": a, "B": b, "C": c}


def labels(response) -> set[str]:
    assert response.status_code == 200, response.doc
    return {item["attributes"]["reference_origin"] for item in response.doc["data"]}


CASES = [
    ("status_eq", "active", "A"),
    ("status_not_eq", "active", "BC"),
    ("status_in", "draft,inactive", "BC"),
    ("status_not_in", "draft", "AC"),
    ("balance_cents_eq", "5000", "B"),
    ("balance_cents_not_eq", "5000", "AC"),
    ("balance_cents_in", "1000,9000", "AC"),
    ("balance_cents_not_in", "1000,9000", "B"),
    ("balance_cents_gt", "1000", "BC"),
    ("balance_cents_gteq", "5000", "BC"),
    ("balance_cents_lt", "5000", "A"),
    ("balance_cents_lteq", "5000", "AB"),
    ("initial_balance_cents_gt", "4999", "BC"),
    ("reference_cont", "ETA", "B"),
    ("reference_start", "alp", "A"),
    ("reference_end", "-2", "B"),
    ("reference_not_cont", "ETA", "AC"),
    ("reference_not_start", "alp", "BC"),
    ("reference_not_end", "-2", "AC"),
    ("reference_eq", "alpha-1", "A"),
    ("reference_present", "true", "AB"),
    ("reference_present", "false", "C"),
    ("reference_blank", "true", "C"),
    ("reference_blank", "false", "AB"),
    ("reference_null", "false", "ABC"),
    ("balance_max_cents_null", "true", "AC"),
    ("balance_max_cents_null", "false", "B"),
    ("balance_max_cents_not_eq", "10000", "AC"),
    ("expires_at_present", "true", "A"),
    ("expires_at_blank", "true", "BC"),
    ("single_use_true", "true", "A"),
    ("single_use_true", "false", "BC"),
    ("single_use_false", "true", "BC"),
    ("single_use_false", "false", "A"),
    ("single_use_eq", "true", "A"),
    ("single_use_not_eq", "true", "BC"),
    ("rechargeable_eq", "1", "ABC"),
    ("metadata_jcont", '{"tier": "gold"}', "A"),
    ("metadata_jcont", '{"tier": "gold", "n": 1}', "A"),
    ("metadata_jcont", '{"tier": "gold", "n": 2}', ""),
    ("metadata_jcont", '{"nested": {"k": "v"}}', "A"),
    ("metadata_jcont", '{"nested": {"x": [1, 2]}}', "A"),
    ("metadata_jcont", '{"vip": false}', "B"),
    ("metadata_jcont", '{"n": "1"}', ""),
    ("metadata_jcont", '{"0": "zero"}', "B"),
    ("metadata_jcont", '{"tier": "bronze"}', ""),
    ("metadata_present", "true", "AB"),
    ("metadata_blank", "true", "C"),
    ("recipient_email_eq", "ANN@example.com", "A"),
    ("recipient_email_not_eq", "ann@example.com", "BC"),
    ("recipient_email_in", "Bob@Example.com,nobody@x.io", "C"),
    ("recipient_email_cont", "EXAMPLE", "AC"),
    ("recipient_email_null", "true", "B"),
    ("currency_code_eq", "USD", "ABC"),
    ("code_eq", "aak7 bbq3 ccw9", "A"),
    ("code_in", "aak7bbq3ccw9,DDM4-EER6-FFT8", "AB"),
    ("created_at_gt", "2000-01-01", "ABC"),
    ("created_at_lt", "2000-01-01T00:00:00Z", ""),
    ("updated_at_gteq", "2000-01-01T00:00:00+00:00", "ABC"),
    ("expires_at_gt", "2000-01-01T00:00:00", "A"),
    ("expires_at_lteq", "2000-01-01T00:00:00Z", ""),
]


@pytest.mark.parametrize("name,value,expected", CASES)
def test_ransack_filters(api, cards, name, value, expected):
    response = api.get("/api/gift_cards", {f"filter[q][{name}]": value})
    assert labels(response) == set(expected)


def test_every_predicate_is_covered():
    from giftcards.filters import PREDICATES

    assert {name.rsplit("_", 1)[-1] for name, _, _ in CASES} >= {
        p.rsplit("_", 1)[-1] for p in PREDICATES
    }
    used = {
        predicate for name, _, _ in CASES for predicate in PREDICATES if name.endswith(predicate)
    }
    assert used == set(PREDICATES)


@pytest.mark.parametrize(
    "name,value,expected",
    [
        ("status", "draft", "B"),
        ("balance_cents", "9000", "C"),
        ("single_use", "false", "BC"),
        ("reference", "beta-2", "B"),
        ("reference_origin", "A", "A"),
        ("currency_code", "USD", "ABC"),
        ("recipient_email", "bob@EXAMPLE.com", "C"),
        ("code", "ddm4-eer6-fft8", "B"),
        ("metadata", '{"tier": "silver"}', "B"),
    ],
)
def test_short_filters_are_equality(api, cards, name, value, expected):
    assert labels(api.get("/api/gift_cards", {f"filter[{name}]": value})) == set(expected)


def test_id_filters(api, cards):
    a, b = cards["A"].pk, cards["B"].pk
    assert labels(api.get("/api/gift_cards", {"filter[id]": a})) == {"A"}
    assert labels(api.get("/api/gift_cards", {"filter[q][id_in]": f"{a},{b}"})) == {"A", "B"}
    assert labels(api.get("/api/gift_cards", {"filter[q][id_not_eq]": a})) == {"B", "C"}


def test_filters_combine(api, cards):
    params = {"filter[q][balance_cents_gt]": "1000", "filter[status]": "draft"}
    assert labels(api.get("/api/gift_cards", params)) == {"B"}


BAD_FILTERS = [
    ("filter[q][status_like]", "x"),
    ("filter[q][foo_eq]", "1"),
    ("filter[q][nonsense]", "1"),
    ("filter[foo]", "1"),
    ("filter[q][code_cont]", "AAAA"),
    ("filter[q][code_not_eq]", "AAAA"),
    ("filter[q][metadata_eq]", "{}"),
    ("filter[q][balance_cents_gt]", "abc"),
    ("filter[q][balance_cents_cont]", "1"),
    ("filter[q][status_eq]", "bogus"),
    ("filter[q][status_in]", "active,,draft"),
    ("filter[q][created_at_gt]", "yesterday"),
    ("filter[q][metadata_jcont]", "[1]"),
    ("filter[q][metadata_jcont]", "{not json"),
    ("filter[q][metadata_jcont]", "{}"),
    ("filter[q][metadata_jcont]", '{"a\\"b": 1}'),
    ("filter[q][single_use_true]", "maybe"),
    ("filter[status]", ""),
    ("filter", "x"),
    ("filter[q]", "x"),
    ("filter[q][a][b]", "x"),
    ("foo", "1"),
    ("page", "1"),
    ("format", "json"),
]


@pytest.mark.parametrize("parameter,value", BAD_FILTERS)
def test_bad_filters_are_400s_naming_the_parameter(api, cards, parameter, value):
    response = api.get("/api/gift_cards", {parameter: value})
    assert response.status_code == 400, response.doc
    assert [e["source"]["parameter"] for e in response.doc["errors"]] == [parameter]


def test_the_same_filter_twice_is_a_400(api, cards):
    response = api.get("/api/gift_cards?filter[status]=draft&filter[status]=active")
    assert response.status_code == 400
    response = api.get("/api/gift_cards?filter[status]=draft&filter[q][status_eq]=active")
    assert response.doc["errors"][0]["source"]["parameter"] == "filter[q][status_eq]"


def test_list_parameters_on_a_single_resource_are_400s(api, cards):
    card_id = cards["A"].pk
    for parameter in ("filter[status]", "sort", "page[number]"):
        response = api.get(f"/api/gift_cards/{card_id}", {parameter: "1"})
        assert response.doc["errors"][0]["source"]["parameter"] == parameter


def test_code_lookups_are_throttled_per_key(api, cards, monkeypatch):
    monkeypatch.setattr(
        CodeLookupThrottle, "THROTTLE_RATES", {"code_lookup": "3/min", "api_key": "1000/min"}
    )
    assert api.get("/api/gift_cards", {"filter[q][code_in]": "AAK7BBQ3CCW9,X"}).status_code == 200
    assert api.get("/api/gift_cards", {"filter[code]": "AAK7BBQ3CCW9"}).status_code == 200
    response = api.get("/api/gift_cards", {"filter[code]": "DDM4EER6FFT8"})
    assert response.status_code == 429
    assert response.doc["errors"][0]["code"] == "TOO_MANY_REQUESTS"
    assert int(response["Retry-After"]) > 0
    assert api.get("/api/gift_cards", {"filter[status]": "draft"}).status_code == 200


def test_creating_cards_with_chosen_codes_spends_code_lookups(api, cards, monkeypatch):
    """A 409 on a taken code tells that the code exists: guessing through POST is throttled
    like a lookup."""
    monkeypatch.setattr(
        CodeLookupThrottle, "THROTTLE_RATES", {"code_lookup": "2/min", "api_key": "1000/min"}
    )

    def create(code):
        body = {"data": {"type": "gift_cards", "attributes": {"balance_cents": 1, "code": code}}}
        return api.post("/api/gift_cards", body)

    assert create("AAK7-BBQ3-CCW9").status_code == 409
    assert create("GUESS-0001-XYZ").status_code == 201
    response = create("GUESS-0002-XYZ")
    assert response.status_code == 429
    assert GiftCard.objects.filter(code_last4="2XYZ").count() == 0
    no_code = {"data": {"type": "gift_cards", "attributes": {"balance_cents": 1}}}
    assert api.post("/api/gift_cards", no_code).status_code == 201


def test_more_codes_in_one_request_than_the_limit_is_a_400(api, cards, monkeypatch):
    monkeypatch.setattr(
        CodeLookupThrottle, "THROTTLE_RATES", {"code_lookup": "3/min", "api_key": "1000/min"}
    )
    response = api.get(
        "/api/gift_cards", {"filter[q][code_in]": "A1B2C3D4,E5F6G7H8,J9K2M3N4,P5Q6R7S8"}
    )
    assert response.status_code == 400
    assert response.doc["errors"][0]["source"]["parameter"] == "filter[q][code_in]"
    assert (
        api.get("/api/gift_cards", {"filter[q][code_in]": "A1B2C3D4,E5F6G7H8"}).status_code == 200
    )


# ---------------------------------------------------------------------------- sorting


def test_default_order_is_oldest_first(api, cards):
    ids = [item["id"] for item in api.get("/api/gift_cards").doc["data"]]
    assert ids == [cards[label].pk for label in "ABC"]


def order(response) -> str:
    return "".join(item["attributes"]["reference_origin"] for item in response.doc["data"])


@pytest.mark.parametrize(
    "sort,expected",
    [
        ("-created_at", "CBA"),
        ("balance_cents", "ABC"),
        ("-balance_cents", "CBA"),
        ("status,-created_at", "ABC"),
        ("-status", "CBA"),
        ("reference_origin", "ABC"),
    ],
)
def test_sort(api, cards, sort, expected):
    assert order(api.get("/api/gift_cards", {"sort": sort})) == expected


@pytest.mark.parametrize(
    "sort,label,position",
    [("balance_max_cents", "B", 0), ("expires_at", "A", 0), ("-expires_at", "A", 2)],
)
def test_nulls_sort_last_ascending_and_first_descending(api, cards, sort, label, position):
    assert order(api.get("/api/gift_cards", {"sort": sort}))[position] == label


@pytest.mark.parametrize("sort", ["colour", "created_at,", "recipient_email", "--code"])
def test_bad_sort_is_a_400(api, cards, sort):
    response = api.get("/api/gift_cards", {"sort": sort})
    assert response.status_code == 400
    assert response.doc["errors"][0]["source"]["parameter"] == "sort"


@pytest.fixture
def coded(make_card):
    """Cards whose codes sort differently from their creation order and their labels."""
    specs = [("M", "M7QX-N4PW-P9RK", Status.ACTIVE), ("B", "B3KD-C8MW-D5TQ", Status.DRAFT)]
    specs += [("X", "X6RB-Y2NK-Z8WD", Status.ACTIVE), ("K", "K4TM-L7QB-M3XP", Status.DRAFT)]
    return [make_card(reference_origin=label, code=code, status=st) for label, code, st in specs]


@pytest.mark.parametrize(
    "sort,expected",
    [
        ("code", "BKMX"),
        ("-code", "XMKB"),
        ("status,code", "MXBK"),  # active before draft (enum order), codes within
        ("-created_at,code", "KXBM"),  # the SPEC's example
        ("code,-created_at", "BKMX"),
    ],
)
def test_sort_by_code(api, coded, sort, expected):
    assert order(api.get("/api/gift_cards", {"sort": sort})) == expected


def test_sort_by_code_pages_through_every_card_once(api, coded, make_card):
    labels_in_pages = ""
    for number in (1, 2, 3):
        response = api.get(
            "/api/gift_cards", {"sort": "-code", "page[size]": 2, "page[number]": number}
        )
        assert response.doc["meta"] == {"record_count": 4, "page_count": 2}
        labels_in_pages += order(response)
    assert labels_in_pages == "XMKB"


def test_sort_by_code_combines_with_filters(api, coded):
    response = api.get("/api/gift_cards", {"sort": "-code", "filter[status]": "draft"})
    assert order(response) == "KB"


# ---------------------------------------------------------------------------- includes, fields


def test_includes(api, cards, tenant):
    services.card_set_tags(card=cards["A"], actor=Actor.system(), add=["vip"])
    response = api.get("/api/gift_cards", {"include": "gift_card_recipient,market,tags"})
    included = {
        (item["type"], item.get("attributes", {}).get("email")) for item in response.doc["included"]
    }
    assert ("gift_card_recipients", "ann@example.com") in included
    assert ("gift_card_recipients", "bob@example.com") in included
    assert ("tags", None) in included
    for item in response.doc["included"]:
        assert item["meta"] == {"mode": "live"} and "self" in item["links"]


@pytest.mark.parametrize(
    "path,include",
    [
        ("/api/gift_cards", "versions"),
        ("/api/gift_cards", "bogus"),
        ("/api/gift_cards", "gift_card_recipient.gift_cards"),
        ("/api/gift_cards", "tags,"),
        ("/api/tags", "gift_cards"),
        ("/api/markets", "gift_cards"),
    ],
)
def test_unknown_include_is_a_400(api, cards, path, include):
    response = api.get(path, {"include": include})
    assert response.status_code == 400
    assert response.doc["errors"][0]["source"]["parameter"] == "include"


def test_sparse_fieldsets(api, cards):
    response = api.get(
        "/api/gift_cards",
        {
            "fields[gift_cards]": "status,balance_cents,gift_card_recipient",
            "fields[gift_card_recipients]": "email",
            "include": "gift_card_recipient",
        },
    )
    item = response.doc["data"][0]
    assert set(item["attributes"]) == {"status", "balance_cents"}
    assert set(item["relationships"]) == {"gift_card_recipient"}
    assert item["meta"] == {"mode": "live"} and "self" in item["links"]
    assert set(response.doc["included"][0]["attributes"]) == {"email"}


@pytest.mark.parametrize(
    "parameter,value",
    [
        ("fields[gift_cards]", "status,colour"),
        ("fields[gift_cards]", "_purchase"),
        ("fields[gift_cards]", "mode"),
        ("fields[widgets]", "name"),
    ],
)
def test_bad_sparse_fieldsets_are_400s(api, cards, parameter, value):
    response = api.get("/api/gift_cards", {parameter: value})
    assert response.status_code == 400
    assert response.doc["errors"][0]["source"]["parameter"] == parameter


# ---------------------------------------------------------------------------- recipients


@pytest.fixture
def recipients(tenant):
    made = {}
    for email, first, last, ref in [
        ("ann@example.com", "Ann", "Lee", "crm-1"),
        ("bob@example.com", "Bob", "Stone", ""),
        ("cy@other.org", "Cy", "Lee", "crm-3"),
    ]:
        made[first] = GiftCardRecipient.objects.create(
            business=tenant.business,
            mode=tenant.mode,
            email=email,
            first_name=first,
            last_name=last,
            reference=ref,
        )
    return made


@pytest.mark.parametrize(
    "parameter,value,expected",
    [
        ("filter[email]", "ANN@example.com", {"Ann"}),
        ("filter[q][email_end]", "example.com", {"Ann", "Bob"}),
        ("filter[first_name]", "Cy", {"Cy"}),
        ("filter[q][last_name_eq]", "Lee", {"Ann", "Cy"}),
        ("filter[q][last_name_in]", "Lee,Stone", {"Ann", "Bob", "Cy"}),
        ("filter[q][reference_blank]", "true", {"Bob"}),
        ("filter[q][reference_start]", "crm", {"Ann", "Cy"}),
        ("filter[q][created_at_gteq]", "2000-01-01", {"Ann", "Bob", "Cy"}),
        ("filter[q][created_at_lt]", "2000-01-01", set()),
    ],
)
def test_recipient_filters(api, recipients, parameter, value, expected):
    response = api.get("/api/gift_card_recipients", {parameter: value})
    assert {item["attributes"]["first_name"] for item in response.doc["data"]} == expected


def test_recipient_bad_filter(api, recipients):
    response = api.get("/api/gift_card_recipients", {"filter[q][status_eq]": "x"})
    assert response.doc["errors"][0]["source"]["parameter"] == "filter[q][status_eq]"


def test_recipient_sort(api, recipients):
    response = api.get("/api/gift_card_recipients", {"sort": "-first_name"})
    assert [item["attributes"]["first_name"] for item in response.doc["data"]] == [
        "Cy",
        "Bob",
        "Ann",
    ]


def test_no_jcont_key_escape_problems_in_the_database(cards):
    # The jcont translation quotes keys itself; a key that looks like a path stays a key.
    from giftcards.filters import json_contains

    qs = json_contains(GiftCard.objects.all(), "metadata", json.loads('{"nested": {"k": "v"}}'))
    assert list(qs) == [cards["A"]]


def test_sparse_fieldsets_with_includes_of_left_out_relationships(api, cards):
    services.card_set_tags(card=cards["A"], actor=Actor.system(), add=["vip"])
    response = api.get(
        "/api/gift_cards", {"include": "tags,gift_card_recipient", "fields[gift_cards]": "status"}
    )
    assert response.status_code == 200
    assert all(set(item["attributes"]) == {"status"} for item in response.doc["data"])


def test_empty_sparse_fieldset_leaves_only_the_identity(api, cards):
    item = api.get("/api/gift_cards", {"fields[gift_cards]": ""}).doc["data"][0]
    assert set(item) == {"type", "id", "links", "meta"}
