"""`/api/balance_transfers`: money moved between two of the key's cards, in one transaction,
listed and read like any resource, never changed."""

from __future__ import annotations

import json

import pytest

from giftcards.models import BalanceLog, BalanceTransfer, GiftCard, OutboxEvent
from tests.giftcards.jsonapi.conftest import resource
from tests.giftcards.jsonapi.helpers import attributes, error

URL = "/api/balance_transfers"


def linkage(card_id):
    return {"type": "gift_cards", "id": card_id}


def transfer(api, source, target, amount_cents=1_000, params=None, headers=None, **extra):
    body = resource(
        "balance_transfers",
        {"amount_cents": amount_cents, **extra},
        {"source": linkage(source), "target": linkage(target)},
    )
    return api.post(URL, body, params=params, **(headers or {}))


@pytest.fixture
def cards(create_card):
    return (
        create_card(status="active", balance_cents=5_000)["id"],
        create_card(status="active", balance_cents=2_000)["id"],
    )


def state() -> dict:
    return {
        "transfers": BalanceTransfer.objects.count(),
        "ledger": BalanceLog.objects.count(),
        "balances": dict(GiftCard.objects.values_list("pk", "balance_cents")),
        "events": OutboxEvent.objects.count(),
    }


def test_a_transfer_moves_the_money_and_links_both_ledgers(api, cards):
    source, target = cards
    events_before_id = OutboxEvent.objects.order_by("-id").values_list("id", flat=True).first() or 0

    response = transfer(api, source, target, 1_250, reference="merge-1")

    assert response.status_code == 201, response.doc
    data = response.doc["data"]
    assert data["type"] == "balance_transfers"
    assert response["Location"] == data["links"]["self"]
    attrs = data["attributes"]
    assert (attrs["amount_cents"], attrs["currency_code"]) == (1_250, "USD")
    assert (attrs["amount_float"], attrs["formatted_amount"]) == (12.5, "$12.50")
    assert attrs["reference"] == "merge-1"
    assert attrs["created_at"] and attrs["updated_at"] == attrs["created_at"]
    assert data["relationships"]["source"]["data"] == {"type": "gift_cards", "id": source}
    assert data["relationships"]["target"]["data"] == {"type": "gift_cards", "id": target}
    assert data["meta"] == {"mode": "live"}
    assert attributes(api, source)["balance_cents"] == 3_750
    assert attributes(api, target)["balance_cents"] == 3_250
    moved = BalanceTransfer.objects.get(pk=data["id"])
    assert sorted(moved.entries.values_list("card_id", "kind", "amount_cents")) == sorted(
        [(source, "transfer_out", -1_250), (target, "transfer_in", 1_250)]
    )
    assert attributes(api, source)["balance_log"][-1]["kind"] == "transfer_out"
    assert attributes(api, target)["balance_log"][-1]["kind"] == "transfer_in"
    recorded = OutboxEvent.objects.filter(id__gt=events_before_id)
    assert sorted(recorded.values_list("name", "resource_id")) == sorted(
        [("gift_cards.balance_change", source), ("gift_cards.balance_change", target)]
    )


def test_a_transfer_is_read_listed_filtered_and_included(api, cards):
    source, target = cards
    first = transfer(api, source, target, 100, reference="a").doc["data"]["id"]
    second = transfer(api, target, source, 200, reference="b").doc["data"]["id"]

    one = api.get(f"{URL}/{first}")
    listed = api.get(URL, params={"sort": "-created_at"})
    filtered = api.get(URL, params={"filter[q][amount_cents_gt]": 150})
    by_source = api.get(URL, params={"filter[q][source_id_eq]": target})
    included = api.get(f"{URL}/{first}", params={"include": "source,target"})

    assert one.status_code == 200 and one.doc["data"]["id"] == first
    assert [t["id"] for t in listed.doc["data"]] == [second, first]
    assert [t["id"] for t in filtered.doc["data"]] == [second]
    assert [t["id"] for t in by_source.doc["data"]] == [second]
    types = {(r["type"], r["id"]) for r in included.doc["included"]}
    assert types == {("gift_cards", source), ("gift_cards", target)}
    related = api.get(f"{URL}/{first}/source")
    assert related.status_code == 200 and related.doc["data"]["id"] == source
    linkage_doc = api.get(f"{URL}/{first}/relationships/target")
    assert linkage_doc.doc["data"] == {"type": "gift_cards", "id": target}


def test_a_transfer_is_never_changed_or_deleted(api, cards):
    moved = transfer(api, *cards).doc["data"]["id"]
    body = resource("balance_transfers", {"amount_cents": 1}, id_=moved)

    assert api.patch(f"{URL}/{moved}", body).status_code == 405
    assert api.delete(f"{URL}/{moved}").status_code == 405


def test_a_single_use_source_is_redeemed_by_a_transfer(api, create_card):
    source = create_card(status="active", balance_cents=5_000, single_use=True)["id"]
    target = create_card(status="active", balance_cents=0)["id"]

    assert transfer(api, source, target, 1_000).status_code == 201

    assert attributes(api, source)["status"] == "redeemed"
    assert attributes(api, target)["balance_cents"] == 1_000


@pytest.mark.parametrize(
    ("source_make", "target_make", "status", "pointer"),
    [
        ({"status": "inactive"}, {"status": "active"}, 422, "/data/relationships/source"),
        ({"status": "active"}, {"status": "inactive"}, 422, "/data/relationships/target"),
        ({}, {"status": "active"}, 422, "/data/relationships/source"),
        (
            {"status": "active"},
            {"status": "active", "rechargeable": False},
            422,
            "/data/relationships/target",
        ),
        (
            {"status": "active"},
            {"status": "active", "balance_max_cents": 2_500},
            422,
            "/data/attributes/amount_cents",
        ),
        (
            {"status": "active", "expires_at": "2020-01-01T00:00:00Z"},
            {"status": "active"},
            422,
            "/data/relationships/source",
        ),
    ],
)
def test_a_card_that_cannot_take_part_is_refused_naming_it(
    api, create_card, source_make, target_make, status, pointer
):
    source = create_card(balance_cents=5_000, **source_make)["id"]
    target = create_card(balance_cents=2_000, **target_make)["id"]
    before = state()

    found = error(transfer(api, source, target, 1_000), status)

    assert found["source"] == {"pointer": pointer}, found
    assert state() == before


def test_more_than_the_source_holds_is_refused(api, cards):
    before = state()

    found = error(transfer(api, *cards, 5_001), 422)

    assert found["source"] == {"pointer": "/data/attributes/amount_cents"}
    assert "$50.00" in found["detail"]
    assert state() == before


def test_a_card_cannot_transfer_to_itself(api, cards):
    before = state()

    found = error(transfer(api, cards[0], cards[0]), 422)

    assert found["source"] == {"pointer": "/data/relationships/target"}
    assert state() == before


def test_a_card_of_another_business_is_not_found(api, other_api, cards):
    foreign = other_api.post(
        "/api/gift_cards",
        resource("gift_cards", {"status": "active", "balance_cents": 5_000}),
    ).doc["data"]["id"]
    before = state()

    to_foreign = error(transfer(api, cards[0], foreign), 404)
    from_foreign = error(transfer(api, foreign, cards[1]), 404)

    assert to_foreign["source"] == {"pointer": "/data/relationships/target"}
    assert from_foreign["source"] == {"pointer": "/data/relationships/source"}
    assert state() == before
    assert other_api.get(URL).doc["data"] == []


def test_a_card_of_the_other_mode_is_not_found(api, test_mode_api, cards):
    test_card = test_mode_api.post(
        "/api/gift_cards",
        resource("gift_cards", {"status": "active", "balance_cents": 5_000}),
    ).doc["data"]["id"]
    before = state()

    assert error(transfer(api, cards[0], test_card), 404)
    assert error(transfer(test_mode_api, test_card, cards[0]), 404)
    assert state() == before


def test_cards_in_two_currencies_are_refused(api, create_card, cards):
    euros = create_card(status="active", balance_cents=5_000, currency_code="EUR")["id"]
    before = state()

    found = error(transfer(api, cards[0], euros), 422)

    assert "EUR" in found["detail"] and "USD" in found["detail"]
    assert state() == before


def test_a_deleted_card_is_not_found(api, cards):
    api.delete(f"/api/gift_cards/{cards[1]}")
    before = state()

    error(transfer(api, cards[0], cards[1]), 404)
    assert state() == before


@pytest.mark.parametrize(
    ("body_change", "status", "pointer"),
    [
        ({"amount_cents": 0}, 422, "/data/attributes/amount_cents"),
        ({"amount_cents": -5}, 422, "/data/attributes/amount_cents"),
        ({"amount_cents": "10"}, 422, "/data/attributes/amount_cents"),
        ({"amount_cents": 1.5}, 422, "/data/attributes/amount_cents"),
        ({"currency_code": "USD"}, 400, "/data/attributes/currency_code"),
        ({"colour": "red"}, 400, "/data/attributes/colour"),
    ],
)
def test_bad_attributes_are_400s_naming_them(api, cards, body_change, status, pointer):
    before = state()
    body = resource(
        "balance_transfers",
        {"amount_cents": 100, **body_change},
        {"source": linkage(cards[0]), "target": linkage(cards[1])},
    )

    response = api.post(URL, body)

    assert response.status_code == status, response.doc
    assert pointer in {e.get("source", {}).get("pointer") for e in response.doc["errors"]}
    assert state() == before


@pytest.mark.parametrize(
    ("relationships", "status", "pointer"),
    [
        ({"source": {"type": "markets", "id": "1"}}, 409, "/data/relationships/source"),
        ({"target": {"type": "gift_cards", "id": "nope"}}, 404, "target"),
        ({"target": None}, 422, "target"),
        ({}, 422, "target"),
    ],
)
def test_bad_linkage_is_refused_naming_the_relationship(api, cards, relationships, status, pointer):
    links = {"source": linkage(cards[0]), "target": linkage(cards[1])}
    links.update(relationships)
    if not relationships:
        links.pop("target")
    before = state()

    response = api.post(URL, resource("balance_transfers", {"amount_cents": 100}, links))

    assert response.status_code == status, response.doc
    assert any(pointer in e.get("source", {}).get("pointer", "") for e in response.doc["errors"])
    assert state() == before


def test_a_retried_transfer_moves_once(api, cards):
    headers = {"Idempotency-Key": "move-1"}
    body = resource(
        "balance_transfers",
        {"amount_cents": 700},
        {"source": linkage(cards[0]), "target": linkage(cards[1])},
    )

    first = api.post(URL, body, **headers)
    from clients.models import IdempotencyRecord

    IdempotencyRecord.objects.all().delete()  # the transfer's own key must still hold
    retry = api.post(URL, body, **headers)

    assert first.status_code == 201, first.doc
    assert retry.status_code in (200, 201), retry.doc
    assert retry.doc["data"]["id"] == first.doc["data"]["id"]
    assert BalanceTransfer.objects.count() == 1
    assert attributes(api, cards[0])["balance_cents"] == 4_300


def test_transfers_are_scoped_to_the_key(api, other_api, cards):
    moved = transfer(api, *cards).doc["data"]["id"]

    assert other_api.get(f"{URL}/{moved}").status_code == 404
    assert other_api.get(URL).doc["data"] == []


def test_a_transfer_costs_a_bounded_number_of_queries(api, cards, django_assert_max_num_queries):
    with django_assert_max_num_queries(16):
        assert transfer(api, *cards).status_code == 201


def test_a_deleted_card_reads_as_no_card_at_all(api, cards):
    api.delete(f"/api/gift_cards/{cards[1]}")

    found = error(transfer(api, cards[0], cards[1]), 404)

    assert found["code"] == "RECORD_NOT_FOUND"
    assert "****" not in found["detail"] and "deleted" not in found["detail"]
    assert found["source"] == {"pointer": "/data/relationships/target"}


@pytest.mark.parametrize("bad_id", [123, None, ["x"], {"id": "x"}])
def test_a_linkage_id_that_is_not_a_string_is_a_400(api, cards, bad_id):
    body = resource(
        "balance_transfers",
        {"amount_cents": 100},
        {"source": linkage(cards[0]), "target": {"type": "gift_cards", "id": bad_id}},
    )

    found = error(api.post(URL, body), 422)

    assert found["source"] == {"pointer": "/data/relationships/target"}


def test_a_currency_mismatch_points_at_the_target(api, create_card, cards):
    euros = create_card(status="active", balance_cents=5_000, currency_code="EUR")["id"]

    found = error(transfer(api, cards[0], euros), 422)

    assert found["source"] == {"pointer": "/data/relationships/target"}


def test_a_key_conflict_never_shows_the_ledgers_internal_key(api, api_key, cards):
    from clients.models import IdempotencyRecord

    key = {"Idempotency-Key": "move-2"}
    assert transfer(api, *cards, 100, headers=key).status_code == 201
    IdempotencyRecord.objects.all().delete()

    response = transfer(api, *cards, 200, headers=key)

    assert response.status_code == 422, response.doc
    text = json.dumps(response.doc)
    assert api_key[0].pk not in text and "jsonapi:" not in text, text
