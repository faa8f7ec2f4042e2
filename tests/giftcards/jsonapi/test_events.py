"""`/api/events`: the topics as resources (no table: an event's id is its topic), their
filters, sorting and pages, their tenant's webhooks and callbacks, and a card's events."""

from __future__ import annotations

import pytest

from clients.tenancy import Mode, Tenant
from giftcards.events import topics, webhooks
from giftcards.models import EventCallback, OutboxEvent
from tests.giftcards.jsonapi.conftest import resource
from tests.giftcards.jsonapi.helpers import card_url, error

CARD_TOPICS = topics.of_resource("gift_cards")


@pytest.fixture
def loopback(settings):
    settings.WEBHOOK_ALLOW_LOOPBACK_HTTP = True


def names(response) -> list[str]:
    assert response.status_code == 200, response.doc
    return [item["id"] for item in response.doc["data"]]


def make_webhook(tenant, actor, topic, **fields):
    fields.setdefault("callback_url", "http://127.0.0.1:9/hooks")
    return webhooks.webhook_create(tenant=tenant, actor=actor, topic=topic, **fields)


def make_callback(webhook, event, **fields):
    return EventCallback.objects.create(
        business=webhook.business,
        mode=webhook.mode,
        webhook=webhook,
        event=event,
        callback_url=webhook.callback_url,
        payload_encrypted="",
        response_code=fields.pop("response_code", "200"),
        **fields,
    )


def test_events_are_the_topics_in_the_keys_mode(api, test_mode_api):
    response = api.get("/api/events")
    assert names(response) == list(topics.TOPICS)[:10]
    assert response.doc["meta"] == {"record_count": len(topics.TOPICS), "page_count": 1}
    first = response.doc["data"][0]
    assert first == {
        "type": "events",
        "id": "gift_cards.create",
        "attributes": {"name": "gift_cards.create"},
        "relationships": {
            name: {
                "links": {
                    "self": f"http://testserver/api/events/gift_cards.create/relationships/{name}",
                    "related": f"http://testserver/api/events/gift_cards.create/{name}",
                }
            }
            for name in ("webhooks", "last_event_callbacks")
        },
        "links": {"self": "http://testserver/api/events/gift_cards.create"},
        "meta": {"mode": "live"},
    }
    assert test_mode_api.get("/api/events").doc["data"][0]["meta"] == {"mode": "test"}


def test_one_event(api):
    response = api.get("/api/events/gift_cards.redeem", {"fields[events]": "name"})
    assert response.doc["data"]["attributes"] == {"name": "gift_cards.redeem"}
    assert "relationships" not in response.doc["data"]
    for missing in ("gift_cards.nope", "orders.place", "1", "gift_cards.create.x"):
        assert error(api.get(f"/api/events/{missing}"), 404)["code"] == "RECORD_NOT_FOUND"


@pytest.mark.parametrize(
    "params,expected",
    [
        ({"filter[name]": "gift_cards.activate"}, ["gift_cards.activate"]),
        ({"filter[id]": "gift_cards.redeem"}, ["gift_cards.redeem"]),
        ({"filter[q][name_eq]": "GIFT_CARDS.ACTIVATE"}, []),
        (
            {"filter[q][name_in]": "gift_cards.redeem,gift_card_recipients.create"},
            ["gift_cards.redeem", "gift_card_recipients.create"],
        ),
        ({"filter[q][name_start]": "gift_card_recipients."}, ["gift_card_recipients.create"]),
        ({"filter[q][name_cont]": "ACTIV"}, ["gift_cards.activate", "gift_cards.deactivate"]),
        ({"filter[q][name_end]": ".create"}, ["gift_cards.create", "gift_card_recipients.create"]),
        ({"filter[q][name_not_eq]": "gift_cards.create"}, list(topics.TOPICS)[1:]),
        ({"filter[q][name_not_in]": ",".join(CARD_TOPICS)}, ["gift_card_recipients.create"]),
        ({"filter[q][name_present]": "false"}, []),
        ({"filter[q][name_blank]": "false"}, list(topics.TOPICS)),
        ({"filter[q][name_null]": "true"}, []),
        (
            {"sort": "name", "filter[q][name_start]": "gift_cards.d"},
            [
                "gift_cards.deactivate",
                "gift_cards.destroy",
            ],
        ),
        ({"sort": "-name", "page[size]": 2}, ["gift_cards.redeem", "gift_cards.purchase"]),
        ({"sort": "-id", "page[size]": 1}, ["gift_cards.redeem"]),
    ],
)
def test_events_filter_and_sort(api, params, expected):
    assert names(api.get("/api/events", params)) == expected


@pytest.mark.parametrize(
    "params",
    [
        {"filter[q][name_gt]": "a"},
        {"filter[q][topic_eq]": "a"},
        {"filter[topic]": "a"},
        {"filter[q][name_present]": "maybe"},
        {"sort": "created_at"},
        {"include": "webhooks"},
        {"page[size]": "26"},
        {"fields[events]": "topic"},
    ],
)
def test_bad_event_queries_are_400s(api, params):
    response = api.get("/api/events", params)
    assert error(response, 400)["source"] == {"parameter": next(iter(params))}


def test_events_paginate(api):
    response = api.get("/api/events", {"page[size]": 3, "page[number]": 3})
    assert names(response) == list(topics.TOPICS)[6:9]
    assert response.doc["meta"] == {"record_count": 8, "page_count": 3}
    assert "next" not in response.doc["links"]
    assert api.get("/api/events", {"page[number]": 9}).doc["data"] == []


@pytest.mark.parametrize("method", ["post", "patch", "delete"])
def test_events_cannot_be_written(api, method):
    body = resource("events", {"name": "x"})
    for path in ("/api/events", "/api/events/gift_cards.create"):
        response = api.request(method, path, body=body if method != "delete" else None)
        assert error(response, 405)


def test_an_events_webhooks_are_the_keys_of_that_topic(
    api, tenant, test_tenant, other_business, actor, loopback
):
    mine = make_webhook(tenant, actor, "gift_cards.activate", name="mine")
    make_webhook(tenant, actor, "gift_cards.redeem")
    make_webhook(test_tenant, actor, "gift_cards.activate")
    make_webhook(Tenant(business=other_business, mode=Mode.LIVE), actor, "gift_cards.activate")
    response = api.get("/api/events/gift_cards.activate/webhooks")
    assert [(w["type"], w["id"]) for w in response.doc["data"]] == [("webhooks", str(mine.pk))]
    assert response.doc["data"][0]["attributes"]["name"] == "mine"
    linkage = api.get("/api/events/gift_cards.activate/relationships/webhooks").doc
    assert linkage["data"] == [{"type": "webhooks", "id": str(mine.pk)}]
    assert linkage["links"]["related"].endswith("/api/events/gift_cards.activate/webhooks")
    assert linkage["meta"] == {"record_count": 1, "page_count": 1}
    assert api.get("/api/events/gift_card_recipients.create/webhooks").doc["data"] == []


def test_an_events_last_callbacks_are_the_keys_newest_first(
    api, tenant, test_tenant, actor, make_card, loopback
):
    card = make_card()
    hook = make_webhook(tenant, actor, "gift_cards.create")
    event = OutboxEvent.objects.get(name="gift_cards.create", resource_id=card.pk)
    older, newer = make_callback(hook, event), make_callback(hook, event, response_code="500")
    elsewhere = make_webhook(test_tenant, actor, "gift_cards.create")
    make_callback(elsewhere, event)
    response = api.get("/api/events/gift_cards.create/last_event_callbacks", {"page[size]": 1})
    assert [c["id"] for c in response.doc["data"]] == [str(newer.pk)]
    assert response.doc["meta"] == {"record_count": 2, "page_count": 2}
    second = api.get("/api/events/gift_cards.create/last_event_callbacks", {"page[number]": 2})
    assert second.doc["data"] == []
    linkage = api.get("/api/events/gift_cards.create/relationships/last_event_callbacks").doc
    assert [item["id"] for item in linkage["data"]] == [str(newer.pk), str(older.pk)]
    assert api.get("/api/events/gift_cards.redeem/last_event_callbacks").doc["data"] == []


def test_unknown_event_relationships_are_404s(api):
    assert error(api.get("/api/events/gift_cards.create/colours"), 404)
    assert error(api.get("/api/events/gift_cards.create/relationships/colours"), 404)
    assert error(api.get("/api/events/gift_cards.nope/webhooks"), 404)


def test_event_relationship_links_cannot_be_written(api):
    path = "/api/events/gift_cards.create/relationships/webhooks"
    assert error(api.patch(path, {"data": []}), 403)


# ---------------------------------------------------------------------------- a card's events


def test_a_cards_events_are_the_card_topics(api, create_card):
    card = create_card()
    response = api.get(f"{card_url(card['id'])}/events")
    assert names(response) == CARD_TOPICS
    assert {e["meta"]["mode"] for e in response.doc["data"]} == {"live"}
    page = api.get(f"{card_url(card['id'])}/events", {"page[size]": 2, "page[number]": 2})
    assert names(page) == CARD_TOPICS[2:4]
    assert page.doc["meta"] == {"record_count": len(CARD_TOPICS), "page_count": 4}
    linkage = api.get(f"{card_url(card['id'])}/relationships/events").doc
    assert linkage["data"] == [{"type": "events", "id": name} for name in CARD_TOPICS]
    assert linkage["links"]["self"].endswith(f"{card_url(card['id'])}/relationships/events")


def test_a_deleted_or_foreign_card_has_no_events_route(api, other_api, create_card):
    card = create_card()
    assert error(other_api.get(f"{card_url(card['id'])}/events"), 404)
    api.delete(card_url(card["id"]))
    assert error(api.get(f"{card_url(card['id'])}/events"), 404)
    assert error(api.get(f"{card_url(card['id'])}/relationships/events"), 404)


def test_the_events_linkage_sent_back_unchanged_is_accepted(api, create_card):
    card = create_card()
    linkage = api.get(f"{card_url(card['id'])}/relationships/events").doc["data"]
    body = resource("gift_cards", {"reference": "x"}, {"events": linkage}, id_=card["id"])
    assert api.patch(card_url(card["id"]), body).status_code == 200
    body = resource("gift_cards", {"reference": "y"}, {"events": linkage[:1]}, id_=card["id"])
    assert error(api.patch(card_url(card["id"]), body), 403)
