"""A list costs a constant number of queries, whatever the page size and the includes."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from giftcards import attachments, codes, services
from giftcards.events import webhooks
from giftcards.models import (
    EventCallback,
    GiftCard,
    GiftCardRecipient,
    Market,
    OutboxEvent,
    Tag,
)
from tests.giftcards.jsonapi.conftest import resource

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


@pytest.fixture
def busy_events(busy_cards, tenant, actor, settings):
    """25 webhooks on card creation, a callback of each for every card (625), and an
    attachment on every card, recipient and market."""
    settings.WEBHOOK_ALLOW_LOOPBACK_HTTP = True
    hooks = [
        webhooks.webhook_create(
            tenant=tenant,
            actor=actor,
            topic="gift_cards.create",
            callback_url=f"http://127.0.0.1:9/h{n}",
        )
        for n in range(25)
    ]
    payload = codes.encrypt('{"data": null}')
    EventCallback.objects.bulk_create(
        EventCallback(
            business=tenant.business,
            mode=tenant.mode,
            webhook=hook,
            event=event,
            callback_url=hook.callback_url,
            payload_encrypted=payload,
            response_code="200",
        )
        for hook in hooks
        for event in OutboxEvent.objects.filter(name="gift_cards.create")
    )
    owners = [
        *(("gift_cards", card.pk) for card in GiftCard.objects.all()),
        *(
            ("gift_card_recipients", str(pk))
            for pk in GiftCardRecipient.objects.values_list("pk", flat=True)
        ),
        *(("markets", str(pk)) for pk in Market.objects.values_list("pk", flat=True)),
    ]
    for type_, pk in owners:
        for n in range(2):
            attachments.attachment_create(
                tenant=tenant,
                actor=actor,
                name=f"a{n}",
                attachable_type=type_,
                attachable_id=pk,
            )
    return hooks


def first_id(api, path) -> str:
    return api.get(path, {"page[size]": 1}).doc["data"][0]["id"]


def test_page_of_25_cards_including_attachments_is_constant(
    api, busy_events, django_assert_max_num_queries
):
    includes = f"{INCLUDES},attachments"
    one = count_queries(api, "/api/gift_cards", {"page[size]": 1, "include": includes})
    with django_assert_max_num_queries(one) as captured:
        response = api.get("/api/gift_cards", {"page[size]": 25, "include": includes})
    assert len(captured) == one
    assert sum(item["type"] == "attachments" for item in response.doc["included"]) == 50
    # The five of a page without attachments, and one for all of them.
    assert one == 6, [query["sql"] for query in captured.captured_queries]


@pytest.mark.parametrize(
    "path,params",
    [
        ("/api/webhooks", {}),
        ("/api/events", {}),
        ("/api/event_callbacks", {}),
        ("/api/event_callbacks", {"include": "webhook"}),
        ("/api/attachments", {}),
        ("/api/gift_card_recipients", {"include": "attachments"}),
        ("/api/markets", {"include": "attachments"}),
    ],
)
def test_new_lists_are_constant(api, busy_events, path, params):
    one = count_queries(api, path, {**params, "page[size]": 1})
    assert count_queries(api, path, {**params, "page[size]": 25}) == one


@pytest.mark.parametrize(
    "owner,related",
    [
        ("/api/gift_cards", "attachments"),
        ("/api/gift_cards", "events"),
        ("/api/gift_cards", "relationships/attachments"),
        ("/api/gift_card_recipients", "attachments"),
        ("/api/markets", "relationships/attachments"),
        ("/api/webhooks", "last_event_callbacks"),
        ("/api/webhooks", "relationships/last_event_callbacks"),
        ("/api/events", "webhooks"),
        ("/api/events", "last_event_callbacks"),
        ("/api/events", "relationships/last_event_callbacks"),
    ],
)
def test_related_lists_are_constant(api, busy_events, owner, related):
    path = f"{owner}/{first_id(api, owner)}/{related}"
    one = count_queries(api, path, {"page[size]": 1})
    assert count_queries(api, path, {"page[size]": 25}) == one


def test_tags_model_rows(busy_cards, tenant):
    assert Tag.objects.for_tenant(tenant).count() == 26


# ---------------------------------------------------------------------------- writes
# Transaction control counts: in the test's transaction each service transaction is a
# SAVEPOINT and its RELEASE, where production has BEGIN and COMMIT.


def outbox_inserts(captured) -> int:
    return sum(
        query["sql"].startswith('INSERT INTO "giftcards_outboxevent"')
        for query in captured.captured_queries
    )


def card_locks(captured) -> int:
    """How often the card row was locked (PostgreSQL) or read as the main table (SQLite,
    which locks the whole database instead)."""
    sql = [query["sql"] for query in captured.captured_queries]
    if connection.vendor == "postgresql":
        return sum(" FOR UPDATE" in statement for statement in sql)
    return sum(
        statement.startswith("SELECT") and 'FROM "giftcards_giftcard"' in statement
        for statement in sql
    )


@pytest.fixture
def card_to_debit(make_card, api):
    card = make_card(balance_cents=10_000)
    api.get("/api/tags")
    return card


@pytest.mark.parametrize("params", [{}, {"fields[gift_cards]": "balance_cents"}])
def test_patch_debit_is_at_most_nine_statements_and_locks_the_card_once(
    api, card_to_debit, params, django_assert_max_num_queries
):
    body = resource("gift_cards", {"_balance_change_cents": -100}, id_=card_to_debit.pk)
    # The key; the ledger (unless left out); then in one transaction the lock, the ledger
    # row, its event (the outbox), the card, its version.
    with django_assert_max_num_queries(9) as captured:
        response = api.patch(f"/api/gift_cards/{card_to_debit.pk}", body, params=params)
    assert response.status_code == 200, response.doc
    assert response.doc["data"]["attributes"]["balance_cents"] == 9_900
    assert card_locks(captured) == 1
    assert outbox_inserts(captured) == 1


def test_patch_response_needs_no_query_after_the_commit(api, card_to_debit):
    """The response is built from what the write had in hand: the statements after the
    transaction's end are none."""
    body = resource("gift_cards", {"_balance_change_cents": -100}, id_=card_to_debit.pk)
    with CaptureQueriesContext(connection) as captured:
        response = api.patch(f"/api/gift_cards/{card_to_debit.pk}", body)
    assert response.status_code == 200
    sql = [query["sql"] for query in captured.captured_queries]
    released = max(i for i, statement in enumerate(sql) if statement.startswith("RELEASE"))
    assert sql[released + 1 :] == []
    log = response.doc["data"]["attributes"]["balance_log"]
    assert [row["balance_change_cents"] for row in log] == [10_000, -100]


def test_patch_debit_of_a_card_with_a_long_ledger_costs_the_same(
    api, card_to_debit, actor, django_assert_max_num_queries
):
    for _ in range(30):
        services.card_debit(card=card_to_debit, amount_cents=1, actor=actor)
    body = resource("gift_cards", {"_balance_change_cents": -100}, id_=card_to_debit.pk)
    with django_assert_max_num_queries(9) as captured:
        response = api.patch(f"/api/gift_cards/{card_to_debit.pk}", body)
    assert len(response.doc["data"]["attributes"]["balance_log"]) == 32
    assert card_locks(captured) == 1


def test_a_debit_that_redeems_writes_both_events_in_one_statement(
    api, card_to_debit, django_assert_max_num_queries
):
    body = resource("gift_cards", {"_balance_change_cents": -10_000}, id_=card_to_debit.pk)
    with django_assert_max_num_queries(9) as captured:
        response = api.patch(f"/api/gift_cards/{card_to_debit.pk}", body)
    assert response.doc["data"]["attributes"]["status"] == "redeemed"
    assert outbox_inserts(captured) == 1
    names = OutboxEvent.objects.filter(resource_id=card_to_debit.pk).values_list("name", flat=True)
    assert list(names)[-2:] == ["gift_cards.balance_change", "gift_cards.redeem"]


def test_create_needs_no_query_after_the_commit(api):
    with CaptureQueriesContext(connection) as captured:
        response = api.post("/api/gift_cards", resource("gift_cards", {"balance_cents": 500}))
    assert response.status_code == 201
    sql = [query["sql"] for query in captured.captured_queries]
    released = max(i for i, statement in enumerate(sql) if statement.startswith("RELEASE"))
    assert sql[released + 1 :] == []
