"""The `gift_cards` resource: the life of a card, the refusals that change nothing, and the
rules for creating and updating."""

from __future__ import annotations

import datetime as dt
import json
import re

import pytest
from django.db import OperationalError, connection
from django.test import Client
from django.utils import timezone

from giftcards.models import BalanceLog, GiftCard, GiftCardRecipient, Market, Status
from tests.giftcards.jsonapi.conftest import MEDIA_TYPE, resource
from tests.giftcards.jsonapi.helpers import (
    attributes,
    card_url,
    error,
    patch_card,
    pointers,
    snapshot,
)

ISO_Z = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$")


def log(attrs) -> list[tuple]:
    return [
        (e["kind"], e["balance_change_cents"], e["balance_after_cents"])
        for e in attrs["balance_log"]
    ]


# ---------------------------------------------------------------------------- the life of a card


def test_full_life_of_a_card(api, create_card):
    card = create_card(balance_cents=5_000, recipient_email="Ann@Example.com")
    card_id = card["id"]
    attrs = card["attributes"]
    assert attrs["status"] == "draft"
    assert attrs["recipient_email"] == "Ann@Example.com"
    assert card["relationships"]["gift_card_recipient"]["data"]["type"] == "gift_card_recipients"
    assert attrs["initial_balance_cents"] == attrs["balance_cents"] == 5_000
    assert attrs["formatted_balance"] == attrs["formatted_initial_balance"] == "$50.00"
    assert attrs["balance_float"] == 50.0
    assert log(attrs) == [("issue", 5_000, 5_000)]
    assert attrs["usage_log"] == {}
    assert ISO_Z.match(attrs["balance_log"][0]["datetime"])

    attrs = patch_card(api, card_id, {"_purchase": True}).doc["data"]["attributes"]
    assert attrs["status"] == "inactive"

    attrs = patch_card(api, card_id, {"_activate": True}).doc["data"]["attributes"]
    assert attrs["status"] == "active"
    assert not any(name.startswith("_") for name in attrs)

    attrs = patch_card(
        api, card_id, {"_balance_change_cents": -1_000, "_order_reference": "ORD-1"}
    ).doc["data"]["attributes"]
    assert (attrs["status"], attrs["balance_cents"]) == ("active", 4_000)
    assert (attrs["formatted_balance"], attrs["balance_float"]) == ("$40.00", 40.0)
    assert attrs["initial_balance_cents"] == 5_000
    assert log(attrs) == [("issue", 5_000, 5_000), ("debit", -1_000, 4_000)]
    [use] = attrs["usage_log"]["ORD-1"]
    assert {k: v for k, v in use.items() if k != "datetime"} == {
        "action": "use",
        "amount_cents": -1_000,
        "balance_cents": 4_000,
        "order_number": "ORD-1",
    }
    assert ISO_Z.match(use["datetime"])

    attrs = patch_card(api, card_id, {"_balance_change_cents": 2_500}).doc["data"]["attributes"]
    assert (attrs["status"], attrs["balance_cents"], attrs["formatted_balance"]) == (
        "active",
        6_500,
        "$65.00",
    )
    assert log(attrs)[-1] == ("recharge", 2_500, 6_500)
    assert list(attrs["usage_log"]) == ["ORD-1"]

    attrs = patch_card(
        api, card_id, {"_balance_change_cents": -6_500, "_order_reference": "ORD-2"}
    ).doc["data"]["attributes"]
    assert (attrs["status"], attrs["balance_cents"], attrs["formatted_balance"]) == (
        "redeemed",
        0,
        "$0.00",
    )
    assert attrs["usage_log"]["ORD-2"][0]["balance_cents"] == 0
    assert sorted(attrs["usage_log"]) == ["ORD-1", "ORD-2"]

    attrs = patch_card(api, card_id, {"_balance_change_cents": 1_000}).doc["data"]["attributes"]
    assert (attrs["status"], attrs["balance_cents"]) == ("active", 1_000)
    assert log(attrs) == [
        ("issue", 5_000, 5_000),
        ("debit", -1_000, 4_000),
        ("recharge", 2_500, 6_500),
        ("debit", -6_500, 0),
        ("recharge", 1_000, 1_000),
    ]
    assert sum(entry["balance_change_cents"] for entry in attrs["balance_log"]) == 1_000
    assert BalanceLog.objects.filter(card_id=card_id).count() == 5


def test_draft_card_can_be_activated_directly(api, create_card):
    card = create_card()
    attrs = patch_card(api, card["id"], {"_activate": True}).doc["data"]["attributes"]
    assert attrs["status"] == "active"


def test_purchase_and_activate_in_one_request(api, create_card):
    card = create_card()
    attrs = patch_card(api, card["id"], {"_purchase": True, "_activate": True}).doc["data"][
        "attributes"
    ]
    assert attrs["status"] == "active"


def test_deactivate_an_active_card(api, create_card):
    card = create_card(status="active")
    attrs = patch_card(api, card["id"], {"_deactivate": True}).doc["data"]["attributes"]
    assert attrs["status"] == "inactive"


def test_false_trigger_does_nothing(api, create_card):
    card = create_card()
    attrs = patch_card(api, card["id"], {"_activate": False}).doc["data"]["attributes"]
    assert attrs["status"] == "draft"


# ---------------------------------------------------------------------------- refusals


@pytest.fixture
def refused(api):
    """`refused(card_id, attributes, status)`: the PATCH fails and changes nothing."""

    def check(card_id, attrs, status=422, relationships=None):
        before = snapshot(api, card_id)
        response = patch_card(api, card_id, attrs, relationships)
        problem = error(response, status)
        assert snapshot(api, card_id) == before
        return problem

    return check


def test_single_use_card_is_redeemed_by_its_first_debit_and_refuses_more(api, create_card, refused):
    card = create_card(status="active", single_use=True, balance_cents=5_000)
    attrs = patch_card(api, card["id"], {"_balance_change_cents": -1_000}).doc["data"]["attributes"]
    assert (attrs["status"], attrs["balance_cents"]) == ("redeemed", 4_000)

    problem = refused(card["id"], {"_balance_change_cents": -1_000})
    assert (problem["code"], problem["meta"]["error"]) == ("VALIDATION_ERROR", "card_not_active")
    assert "redeemed" in problem["detail"]
    assert problem["source"]["pointer"] == "/data/attributes/_balance_change_cents"

    problem = refused(card["id"], {"_balance_change_cents": 1_000})
    assert (problem["code"], problem["meta"]["error"]) == ("VALIDATION_ERROR", "card_not_active")
    assert "single-use" in problem["detail"] and "redeemed" in problem["detail"]


def test_non_rechargeable_card_refuses_a_recharge(create_card, refused):
    card = create_card(status="active", rechargeable=False)
    problem = refused(card["id"], {"_balance_change_cents": 500})
    assert (problem["code"], problem["meta"]["error"]) == ("VALIDATION_ERROR", "not_rechargeable")
    assert problem["source"]["pointer"] == "/data/attributes/_balance_change_cents"


def test_balance_max_refuses_a_recharge_and_an_adjustment_above_it(create_card, refused):
    card = create_card(status="active", balance_cents=5_000, balance_max_cents=6_000)
    assert card["attributes"]["formatted_balance_max"] == "$60.00"
    assert card["attributes"]["balance_max_float"] == 60.0
    problem = refused(card["id"], {"_balance_change_cents": 2_000})
    assert (problem["code"], problem["meta"]["error"]) == (
        "VALIDATION_ERROR",
        "balance_max_exceeded",
    )
    assert problem["source"]["pointer"] == "/data/attributes/_balance_change_cents"

    problem = refused(card["id"], {"balance_cents": 7_000})
    assert (problem["code"], problem["meta"]["error"]) == (
        "VALIDATION_ERROR",
        "balance_max_exceeded",
    )
    assert problem["source"]["pointer"] == "/data/attributes/balance_cents"

    problem = refused(card["id"], {"balance_max_cents": 4_000})
    assert problem["source"]["pointer"] == "/data/attributes/balance_max_cents"


def test_expired_card_refuses_balance_changes_until_its_expiry_moves(api, create_card, refused):
    past = (timezone.now() - dt.timedelta(days=1)).isoformat()
    card = create_card(status="active", expires_at=past)
    for change in (-1_000, 1_000):
        problem = refused(card["id"], {"_balance_change_cents": change})
        assert (problem["code"], problem["meta"]["error"]) == ("VALIDATION_ERROR", "card_expired")
        # The pointer names what the request sent; the detail names the expiry.
        assert problem["source"]["pointer"] == "/data/attributes/_balance_change_cents"
        assert "expired" in problem["detail"]
    assert attributes(api, card["id"])["status"] == "active"  # expiry is not a status

    future = (timezone.now() + dt.timedelta(days=30)).isoformat()
    response = patch_card(api, card["id"], {"expires_at": future, "_balance_change_cents": -1_000})
    assert response.status_code == 200, response.doc
    assert response.doc["data"]["attributes"]["balance_cents"] == 4_000


def test_debit_above_the_balance_is_refused(create_card, refused):
    card = create_card(status="active", balance_cents=1_000)
    problem = refused(card["id"], {"_balance_change_cents": -1_001})
    assert (problem["code"], problem["meta"]["error"]) == (
        "VALIDATION_ERROR",
        "insufficient_balance",
    )
    assert problem["source"]["pointer"] == "/data/attributes/_balance_change_cents"


@pytest.mark.parametrize(
    "status,trigger",
    [("draft", "_deactivate"), ("active", "_purchase"), ("active", "_activate")],
)
def test_illegal_trigger_names_the_current_status(create_card, refused, status, trigger):
    card = create_card(status=status)
    problem = refused(card["id"], {trigger: True})
    assert (problem["code"], problem["meta"]["error"]) == ("VALIDATION_ERROR", "illegal_transition")
    assert status in problem["detail"]
    assert problem["detail"] == f"{trigger} - {problem['title']}"
    assert problem["source"] == {"pointer": f"/data/attributes/{trigger}"}  # what was sent


def test_debit_of_an_inactive_card_is_refused(create_card, refused):
    card = create_card(status="inactive")
    problem = refused(card["id"], {"_balance_change_cents": -100})
    assert "inactive" in problem["detail"]


def test_a_refusal_late_in_a_patch_undoes_its_earlier_steps(create_card, refused):
    card = create_card(status="active", balance_cents=1_000)
    refused(
        card["id"],
        {"reference": "changed", "_add_tags": "vip", "_balance_change_cents": -5_000},
    )


# ---------------------------------------------------------------------------- creating


def test_defaults_on_create(create_card):
    attrs = create_card()["attributes"]
    assert attrs["status"] == "draft"
    assert (attrs["single_use"], attrs["rechargeable"], attrs["distribute_discount"]) == (
        False,
        True,
        True,
    )
    assert attrs["currency_code"] == "USD"
    assert attrs["metadata"] == {}
    assert attrs["balance_max_cents"] is None and attrs["formatted_balance_max"] is None
    assert attrs["recipient_email"] is None
    assert len(attrs["code"]) >= 16


def test_create_returns_location_and_links(api):
    response = api.post("/api/gift_cards", resource("gift_cards", {"balance_cents": 100}))
    assert response.status_code == 201
    data = response.doc["data"]
    assert response["Location"] == data["links"]["self"]
    assert data["links"]["self"].endswith(f"/api/gift_cards/{data['id']}")
    assert len(data["id"]) == 22
    assert data["meta"] == {"mode": "live"}


def test_balance_cents_is_the_only_required_attribute(api):
    response = api.post("/api/gift_cards", resource("gift_cards", {}))
    problem = error(response, 422)
    assert (problem["code"], problem["meta"]["error"]) == ("VALIDATION_ERROR", "required")
    assert problem["source"]["pointer"] == "/data/attributes/balance_cents"


def test_currency_falls_back_to_the_market_then_the_business(api, tenant, create_card):
    market = Market.objects.create(
        business=tenant.business, mode=tenant.mode, name="EU", currency_code="EUR"
    )
    card = create_card(
        balance_cents=15_000, relationships={"market": {"type": "markets", "id": str(market.pk)}}
    )
    assert card["attributes"]["currency_code"] == "EUR"
    assert card["attributes"]["formatted_balance"] == "€150,00"
    assert card["relationships"]["market"]["data"] == {"type": "markets", "id": str(market.pk)}
    assert create_card()["attributes"]["currency_code"] == "USD"


def test_yen_have_no_decimals(create_card):
    attrs = create_card(currency_code="JPY", balance_cents=2_500)["attributes"]
    assert attrs["formatted_balance"] == "¥2,500"
    assert attrs["balance_float"] == 2500.0


@pytest.mark.parametrize(
    "attrs,pointer",
    [
        ({"balance_cents": "100"}, "balance_cents"),
        ({"balance_cents": 10.5}, "balance_cents"),
        ({"balance_cents": -1}, "balance_cents"),
        ({"balance_cents": True}, "balance_cents"),
        ({"balance_cents": 100, "single_use": "yes"}, "single_use"),
        ({"balance_cents": 100, "metadata": [1]}, "metadata"),
        ({"balance_cents": 100, "currency_code": "XXX"}, "currency_code"),
        ({"balance_cents": 100, "currency_code": "usd"}, "currency_code"),
        ({"balance_cents": 100, "status": "redeemed"}, "status"),
        ({"balance_cents": 100, "status": "lost"}, "status"),
        ({"balance_cents": 100, "code": "short"}, "code"),
        ({"balance_cents": 100, "code": "X" * 41}, "code"),
        ({"balance_cents": 100, "code": "bad*chars!"}, "code"),
        ({"balance_cents": 100, "expires_at": "tomorrow"}, "expires_at"),
        ({"balance_cents": 100, "expires_at": 1}, "expires_at"),
        ({"balance_cents": 100, "expires_at": 1.5}, "expires_at"),
        ({"balance_cents": 100, "expires_at": True}, "expires_at"),
        ({"balance_cents": 100, "expires_at": []}, "expires_at"),
        ({"balance_cents": 100, "expires_at": {}}, "expires_at"),
        ({"balance_cents": 100, "reference": 7}, "reference"),
        ({"balance_cents": 100, "recipient_email": 7}, "recipient_email"),
        ({"balance_cents": 100, "image_url": ["x"]}, "image_url"),
        ({"balance_cents": 100, "recipient_email": "not-an-email"}, "recipient_email"),
        ({"balance_cents": 100, "image_url": "nope"}, "image_url"),
        ({"balance_cents": 100, "_activate": True}, "_activate"),
        ({"balance_cents": 100, "_balance_change_cents": 5}, "_balance_change_cents"),
        ({"balance_cents": 100, "colour": "red"}, "colour"),
        ({"balance_cents": 100, "balance_float": 1.0}, "balance_float"),
        ({"balance_cents": 100, "initial_balance_cents": 5}, "initial_balance_cents"),
    ],
)
def test_bad_attributes_on_create_are_400s_naming_them(api, attrs, pointer):
    response = api.post("/api/gift_cards", resource("gift_cards", attrs))
    not_allowed = {"colour", "balance_float", "initial_balance_cents"}  # 400s, before validation
    assert response.status_code == (400 if pointer in not_allowed else 422), response.doc
    assert f"/data/attributes/{pointer}" in pointers(response)
    assert not GiftCard.objects.exists()


def test_opening_balance_above_the_maximum_is_refused(api):
    body = resource("gift_cards", {"balance_cents": 100, "balance_max_cents": 50})
    problem = error(api.post("/api/gift_cards", body), 422)
    assert problem["source"]["pointer"] == "/data/attributes/balance_cents"
    assert not GiftCard.objects.exists()


def test_chosen_code_is_returned_in_full_and_unique_per_business(api, create_card):
    card = create_card(code="GIFT-2024-ABCD")
    assert card["attributes"]["code"] == "GIFT-2024-ABCD"
    response = api.post(
        "/api/gift_cards", resource("gift_cards", {"balance_cents": 1, "code": "gift 2024 abcd"})
    )
    problem = error(response, 409)
    assert (problem["code"], problem["meta"]["error"]) == ("RECORD_NOT_UNIQUE", "duplicate_code")
    assert problem["source"]["pointer"] == "/data/attributes/code"


@pytest.mark.parametrize(
    ("code", "why"),
    [
        ("12345678", "simple sequence"),
        ("AAAAAAAA", "one character repeated"),
        ("ABAB-ABAB", "short pattern repeated"),
        ("AABB-CCDD", "different characters"),
    ],
)
def test_weak_chosen_code_is_refused_saying_why(api, code, why):
    response = api.post(
        "/api/gift_cards", resource("gift_cards", {"balance_cents": 1, "code": code})
    )
    problem = error(response, 422)
    assert (problem["code"], problem["meta"]["error"]) == ("VALIDATION_ERROR", "invalid_code")
    assert problem["source"]["pointer"] == "/data/attributes/code"
    assert why in problem["detail"]
    assert not GiftCard.objects.exists()


def test_same_code_in_another_business_is_fine(create_card, other_api):
    create_card(code="SHARED-CODE-1")
    response = other_api.post(
        "/api/gift_cards", resource("gift_cards", {"balance_cents": 1, "code": "SHARED-CODE-1"})
    )
    assert response.status_code == 201


def test_recipient_email_finds_the_recipient_case_insensitively(create_card, tenant):
    first = create_card(recipient_email="ann@example.com")
    second = create_card(recipient_email="  ANN@Example.COM ")
    rel = "gift_card_recipient"
    assert first["relationships"][rel]["data"] == second["relationships"][rel]["data"]
    assert GiftCardRecipient.objects.for_tenant(tenant).count() == 1


def test_recipient_email_conflicting_with_the_relationship_is_refused(api, tenant):
    bob = GiftCardRecipient.objects.create(
        business=tenant.business, mode=tenant.mode, email="bob@x.io"
    )
    body = resource(
        "gift_cards",
        {"balance_cents": 1, "recipient_email": "ann@x.io"},
        {"gift_card_recipient": {"type": "gift_card_recipients", "id": str(bob.pk)}},
    )
    assert "/data/attributes/recipient_email" in pointers(api.post("/api/gift_cards", body))


# ---------------------------------------------------------------------------- updating


def test_code_cannot_change_but_may_be_echoed(api, create_card):
    card = create_card(code="KEEP-THIS-CODE")
    problem = error(patch_card(api, card["id"], {"code": "OTHER-CODE-123"}), 400)
    assert problem["source"]["pointer"] == "/data/attributes/code"
    assert (problem["code"], problem["meta"]["error"]) == ("PARAM_NOT_ALLOWED", "read_only")
    assert patch_card(api, card["id"], {"code": "keep this code"}).status_code == 200
    assert attributes(api, card["id"])["code"] == "KEEP-THIS-CODE"


def test_status_changes_only_through_triggers(api, create_card):
    card = create_card()
    problem = error(patch_card(api, card["id"], {"status": "active"}), 400)
    assert problem["source"]["pointer"] == "/data/attributes/status"
    assert patch_card(api, card["id"], {"status": "draft"}).status_code == 200


def test_currency_cannot_change(api, create_card):
    card = create_card()
    problem = error(patch_card(api, card["id"], {"currency_code": "EUR"}), 400)
    assert problem["source"]["pointer"] == "/data/attributes/currency_code"


def test_writing_balance_cents_records_an_adjustment(api, create_card):
    card = create_card(status="inactive", balance_cents=5_000)
    attrs = patch_card(api, card["id"], {"balance_cents": 3_000}).doc["data"]["attributes"]
    assert (attrs["balance_cents"], attrs["status"]) == (3_000, "inactive")
    assert log(attrs)[-1] == ("adjustment", -2_000, 3_000)
    assert attrs["initial_balance_cents"] == 5_000


@pytest.mark.parametrize(
    "attrs,pointer",
    [
        ({"balance_cents": 1, "_balance_change_cents": -1}, "_balance_change_cents"),
        ({"_balance_change_cents": 0}, "_balance_change_cents"),
        ({"_order_reference": "ORD"}, "_order_reference"),
        ({"_activate": True, "_deactivate": True}, "_deactivate"),
        ({"_activate": "yes"}, "_activate"),
        ({"_balance_change_cents": "-100"}, "_balance_change_cents"),
        ({"_add_tags": " , "}, "_add_tags"),
        ({"balance_log": []}, "balance_log"),
        ({"created_at": "2020-01-01T00:00:00Z"}, "created_at"),
    ],
)
def test_bad_patches_are_400s_naming_the_attribute(api, create_card, attrs, pointer):
    card = create_card(status="active")
    before = snapshot(api, card["id"])
    response = patch_card(api, card["id"], attrs)
    read_only = {"balance_log", "created_at"}  # 400s, before validation
    assert response.status_code == (400 if pointer in read_only else 422), response.doc
    assert f"/data/attributes/{pointer}" in pointers(response)
    assert snapshot(api, card["id"]) == before


def test_plain_attributes_update(api, create_card):
    card = create_card()
    when = "2031-05-01T10:00:00Z"
    attrs = patch_card(
        api,
        card["id"],
        {
            "reference": "ERP-1",
            "reference_origin": "erp",
            "metadata": {"tier": "gold"},
            "image_url": "https://example.com/card.png",
            "expires_at": when,
            "single_use": True,
            "rechargeable": False,
            "distribute_discount": False,
            "balance_max_cents": 10_000,
        },
    ).doc["data"]["attributes"]
    assert attrs["reference"] == "ERP-1" and attrs["reference_origin"] == "erp"
    assert attrs["metadata"] == {"tier": "gold"}
    assert attrs["expires_at"] == when
    assert (attrs["single_use"], attrs["rechargeable"], attrs["distribute_discount"]) == (
        True,
        False,
        False,
    )
    assert attrs["formatted_balance_max"] == "$100.00"
    cleared = patch_card(api, card["id"], {"expires_at": None, "reference": None}).doc["data"]
    assert cleared["attributes"]["expires_at"] is None
    assert cleared["attributes"]["reference"] == ""


def test_recipient_can_be_set_and_removed(api, create_card, tenant):
    card = create_card()
    data = patch_card(api, card["id"], {"recipient_email": "zoe@example.com"}).doc["data"]
    assert data["attributes"]["recipient_email"] == "zoe@example.com"
    data = patch_card(api, card["id"], None, {"gift_card_recipient": None}).doc["data"]
    assert data["attributes"]["recipient_email"] is None
    assert data["relationships"]["gift_card_recipient"]["data"] is None


def test_market_of_another_currency_is_refused(api, create_card, tenant):
    market = Market.objects.create(
        business=tenant.business, mode=tenant.mode, name="EU", currency_code="EUR"
    )
    card = create_card()
    response = patch_card(
        api, card["id"], None, {"market": {"type": "markets", "id": str(market.pk)}}
    )
    problem = error(response, 422)
    assert problem["source"]["pointer"] == "/data/relationships/market"


def test_relationship_of_the_wrong_type_is_a_409(api, create_card, tenant):
    card = create_card()
    response = patch_card(api, card["id"], None, {"market": {"type": "tags", "id": "1"}})
    assert error(response, 409)["source"] == {"pointer": "/data/relationships/market/data/type"}


def test_relationship_sent_as_an_attribute_is_refused(api, create_card):
    card = create_card()
    response = patch_card(api, card["id"], {"market": None})
    assert "/data/attributes/market" in pointers(response)


def test_tags_are_added_and_removed_by_name(api, create_card):
    card = create_card()
    data = patch_card(api, card["id"], {"_add_tags": "vip, summer ,vip"}).doc["data"]
    assert data["relationships"]["tags"]["meta"] == {"count": 2}
    response = api.get(card_url(card["id"]), {"include": "tags"})
    assert sorted(item["attributes"]["name"] for item in response.doc["included"]) == [
        "summer",
        "vip",
    ]
    data = patch_card(api, card["id"], {"_remove_tags": "vip"}).doc["data"]
    assert len(data["relationships"]["tags"]["data"]) == 1


def test_a_connection_lost_after_a_debit_with_included_tags_leaves_no_debit_behind(
    api, create_card
):
    """A debit answered with its tags included reads the tags' rows for the response. That
    read comes before the commit: a database lost there fails the request with the money
    unmoved (a retry is safe), never a 5xx over a committed debit."""
    card_id = create_card(balance_cents=5_000)["id"]
    patch_card(api, card_id, {"_activate": True, "_add_tags": "vip"})
    debited = []

    def lose_the_connection_after_the_debit(execute, sql, params, many, context):
        if sql.lstrip().upper().startswith("INSERT") and '"giftcards_balancelog"' in sql:
            debited.append(sql)
        elif debited and 'FROM "giftcards_tag"' in sql:
            raise OperationalError("server closed the connection unexpectedly")
        return execute(sql, params, many, context)

    body = resource("gift_cards", {"_balance_change_cents": -1_000}, id_=card_id)
    client = Client(raise_request_exception=False)
    with connection.execute_wrapper(lose_the_connection_after_the_debit):
        response = client.patch(
            f"{card_url(card_id)}?include=tags",
            json.dumps(body),
            content_type=MEDIA_TYPE,
            headers={"Authorization": f"Bearer {api.secret}", "Accept": MEDIA_TYPE},
        )
    assert debited, "the fault comes after the debit's ledger row is written"
    assert response.status_code >= 500
    assert not BalanceLog.objects.filter(card_id=card_id, kind=BalanceLog.Kind.DEBIT).exists()
    assert attributes(api, card_id)["balance_cents"] == 5_000


def test_sending_back_the_tags_linkage_unchanged_is_accepted(api, create_card):
    """Clients that send the whole resource back repeat its to-many linkage as they read it."""
    card = create_card()
    tagged = patch_card(api, card["id"], {"_add_tags": "vip"}).doc["data"]
    linkage = tagged["relationships"]["tags"]["data"]
    events = api.get(f"{card_url(card['id'])}/relationships/events").doc["data"]
    same = {"tags": linkage, "attachments": [], "events": events}
    response = patch_card(api, card["id"], {"reference": "round trip"}, same)
    assert response.status_code == 200, response.doc
    assert response.doc["data"]["relationships"]["tags"]["data"] == linkage
    created = api.post(
        "/api/gift_cards", resource("gift_cards", {"balance_cents": 1}, {"tags": []})
    )
    assert created.status_code == 201, created.doc


def test_replacing_the_attachments_relationship_is_forbidden(api, create_card):
    """JSON:API 1.0: a refused full replacement of a to-many relationship is a 403 (tags
    linkage replaces the card's tags: tests/giftcards/jsonapi/test_tag_linkage.py)."""
    card = create_card()
    linkage = {"attachments": [{"type": "attachments", "id": "1"}]}
    response = patch_card(api, card["id"], {"reference": "x"}, linkage)
    assert error(response, 403)["source"] == {"pointer": "/data/relationships/attachments"}
    assert attributes(api, card["id"])["reference"] != "x"
    body = resource("gift_cards", {"balance_cents": 1}, linkage)
    assert error(api.post("/api/gift_cards", body), 403)
    assert GiftCard.objects.count() == 1


@pytest.mark.parametrize("method", ["patch", "post", "delete"])
@pytest.mark.parametrize("name", ["tags", "market", "gift_card_recipient"])
def test_writes_to_relationship_links_are_forbidden(api, create_card, method, name):
    card = create_card()
    linkage = [] if name == "tags" else None
    response = api.request(
        method, f"{card_url(card['id'])}/relationships/{name}", body={"data": linkage}
    )
    assert error(response, 403)["code"] == "FORBIDDEN"


# ---------------------------------------------------------------------------- deleting


def test_delete_soft_deletes(api, create_card):
    card = create_card(status="active")
    patch_card(api, card["id"], {"_balance_change_cents": -100})
    response = api.delete(card_url(card["id"]))
    assert response.status_code == 204
    assert error(api.get(card_url(card["id"])), 404)["code"] == "RECORD_NOT_FOUND"
    assert error(patch_card(api, card["id"], {"_balance_change_cents": -1}), 404)
    assert error(api.delete(card_url(card["id"])), 404)
    assert api.get("/api/gift_cards").doc["data"] == []
    stored = GiftCard.objects.get(pk=card["id"])
    assert stored.deleted_at is not None and stored.status == Status.ACTIVE
    assert BalanceLog.objects.filter(card=stored).count() == 2


def test_unknown_relationship_points_at_relationships(api, create_card):
    card = create_card()
    response = patch_card(api, card["id"], None, {"colours": []})
    assert pointers(response) == {"/data/relationships/colours"}


def test_attachments_and_events_are_links_to_their_own_routes(api, create_card):
    """No linkage is claimed without reading it: both relationships are links (attachments
    carry linkage when included, see test_attachments.py)."""
    card = create_card()
    relationships = api.get(card_url(card["id"])).doc["data"]["relationships"]
    base = f"http://testserver{card_url(card['id'])}"
    for name in ("attachments", "events"):
        assert relationships[name] == {
            "links": {"self": f"{base}/relationships/{name}", "related": f"{base}/{name}"}
        }
    sparse = api.get("/api/gift_cards", {"fields[gift_cards]": "events"}).doc["data"][0]
    assert list(sparse["relationships"]) == ["events"]
    for name in ("attachments", "events"):
        response = patch_card(api, card["id"], None, {name: [{"type": name, "id": "1"}]})
        assert error(response, 403)["source"] == {"pointer": f"/data/relationships/{name}"}


def test_recharge_filed_under_an_order(api, create_card):
    card = create_card(status="active")
    attrs = patch_card(
        api, card["id"], {"_balance_change_cents": 700, "_order_reference": "RET-1"}
    ).doc["data"]["attributes"]
    assert attrs["usage_log"]["RET-1"][0]["action"] == "recharge"
    assert attrs["usage_log"]["RET-1"][0]["amount_cents"] == 700


def test_metadata_nested_too_deeply_is_a_400_naming_it(api):
    deep = {}
    for _ in range(40):
        deep = {"a": deep}
    response = api.post(
        "/api/gift_cards", resource("gift_cards", {"balance_cents": 1, "metadata": deep})
    )
    assert response.status_code == 422, response.doc
    assert "/data/attributes/metadata" in pointers(response)
    assert not GiftCard.objects.exists()


def test_if_match_refuses_a_patch_based_on_a_stale_read(api, create_card):
    card = create_card(status="active", balance_cents=5_000)
    read = api.get(card_url(card["id"]))
    assert patch_card(api, card["id"], {"_balance_change_cents": -1_000}).status_code == 200
    before = snapshot(api, card["id"])

    stale = patch_card(api, card["id"], {"balance_cents": 5_000}, **{"If-Match": read["ETag"]})

    assert error(stale, 412)["code"] == "PRECONDITION_FAILED"
    assert snapshot(api, card["id"]) == before
    current = api.get(card_url(card["id"]))["ETag"]
    response = patch_card(api, card["id"], {"reference": "ok"}, **{"If-Match": current})
    assert response.status_code == 200, response.doc
    assert response["ETag"] != current


def test_a_card_sent_back_whole_as_read_is_accepted(api, create_card):
    """Clients that send every attribute back: read-only ones unchanged are accepted, and
    with If-Match a stale copy cannot write its old balance back."""
    card = create_card(status="active", balance_cents=5_000, reference="before")
    read = api.get(card_url(card["id"]))
    attrs = {**read.doc["data"]["attributes"], "reference": "after"}
    response = patch_card(api, card["id"], attrs, **{"If-Match": read["ETag"]})
    assert response.status_code == 200, response.doc
    assert response.doc["data"]["attributes"]["reference"] == "after"
    assert [row["kind"] for row in response.doc["data"]["attributes"]["balance_log"]] == ["issue"]

    changed = {**response.doc["data"]["attributes"], "formatted_balance": "$1.00"}
    problem = error(patch_card(api, card["id"], changed), 400)
    assert problem["source"]["pointer"] == "/data/attributes/formatted_balance"


def test_a_deleted_card_cannot_be_changed_through_the_jsonapi(api, create_card):
    """Deleted cards are 404s here, on writes too (the plain API restores them)."""
    card = create_card(status="active")
    assert api.delete(card_url(card["id"])).status_code == 204
    assert error(patch_card(api, card["id"], {"reference": "after delete"}), 404)
    assert GiftCard.objects.get(pk=card["id"]).reference == ""
