"""`/api/event_callbacks`: what the workers recorded of each webhook call, read-only: the
payload sent (decrypted), the answer, the webhook; oldest first, tenant- and mode-scoped.
Calls go to a receiver on 127.0.0.1, worked off in-process by `work.drain()`."""

from __future__ import annotations

import json

import pytest

from giftcards import codes, services
from giftcards.events import webhooks, work
from giftcards.models import EventCallback
from tests.giftcards.events.receiver import Receiver
from tests.giftcards.jsonapi.conftest import resource
from tests.giftcards.jsonapi.helpers import error


@pytest.fixture
def receiver(settings):
    settings.WEBHOOK_ALLOW_LOOPBACK_HTTP = True
    settings.WEBHOOK_TIMEOUT = 2
    settings.WEBHOOK_CONNECT_TIMEOUT = 1
    running = Receiver().start()
    yield running
    running.stop()


@pytest.fixture
def calls(receiver, tenant, actor, make_card):
    """A card issued and debited, a webhook on its balance changes: two calls, the second
    one refused by the receiver."""
    hook = webhooks.webhook_create(
        tenant=tenant, actor=actor, topic="gift_cards.balance_change", callback_url=receiver.url
    )
    receiver.plan.statuses = [200, 503]
    receiver.plan.body = b"noted"
    card = make_card(balance_cents=5_000)
    services.card_debit(card=card, amount_cents=1_250, actor=actor, order_reference="ORD-1")
    work.drain(rounds=1)
    received = receiver.wait_for(2)
    return {"webhook": hook, "card": card, "received": received}


def test_callbacks_show_what_was_sent_and_what_came_back(api, calls):
    response = api.get("/api/event_callbacks")
    assert response.status_code == 200, response.doc
    first, second = response.doc["data"]  # oldest first
    assert first["type"] == "event_callbacks"
    assert list(first["attributes"]) == [
        "callback_url",
        "payload",
        "response_code",
        "response_message",
        "created_at",
        "updated_at",
    ]
    assert first["attributes"]["payload"] == json.loads(calls["received"][0].body)
    assert second["attributes"]["payload"] == json.loads(calls["received"][1].body)
    assert second["attributes"]["payload"]["data"]["attributes"]["balance_cents"] == 3_750
    assert (first["attributes"]["response_code"], first["attributes"]["response_message"]) == (
        "200",
        "noted",
    )
    assert (second["attributes"]["response_code"], second["attributes"]["response_message"]) == (
        "503",
        "noted",
    )
    assert first["attributes"]["callback_url"] == calls["webhook"].callback_url
    hook_id = str(calls["webhook"].pk)
    assert first["relationships"]["webhook"] == {
        "links": {
            "self": f"{first['links']['self']}/relationships/webhook",
            "related": f"{first['links']['self']}/webhook",
        },
        "data": {"type": "webhooks", "id": hook_id},
    }
    assert first["meta"] == {"mode": "live"}
    assert "included" not in response.doc

    newest = api.get("/api/event_callbacks", {"sort": "-created_at"}).doc["data"]
    assert [c["id"] for c in newest] == [second["id"], first["id"]]
    one = api.get(f"/api/event_callbacks/{first['id']}")
    assert one.doc["data"] == first


def test_include_webhook(api, calls):
    response = api.get("/api/event_callbacks", {"include": "webhook"})
    assert [(i["type"], i["id"]) for i in response.doc["included"]] == [
        ("webhooks", str(calls["webhook"].pk))
    ]
    included = response.doc["included"][0]["attributes"]
    assert included["topic"] == "gift_cards.balance_change"
    callback_id = response.doc["data"][0]["id"]
    one = api.get(f"/api/event_callbacks/{callback_id}", {"include": "webhook"})
    assert one.doc["included"] == response.doc["included"]
    assert error(api.get("/api/event_callbacks", {"include": "payload"}), 400)


def test_the_webhook_route_and_linkage(api, calls):
    callback_id = api.get("/api/event_callbacks").doc["data"][0]["id"]
    related = api.get(f"/api/event_callbacks/{callback_id}/webhook").doc["data"]
    assert (related["type"], related["id"]) == ("webhooks", str(calls["webhook"].pk))
    assert related["attributes"]["shared_secret"] == calls["webhook"].shared_secret
    linkage = api.get(f"/api/event_callbacks/{callback_id}/relationships/webhook").doc
    assert linkage["data"] == {"type": "webhooks", "id": str(calls["webhook"].pk)}
    assert linkage["links"]["related"].endswith(f"/api/event_callbacks/{callback_id}/webhook")
    assert error(api.get(f"/api/event_callbacks/{callback_id}/payload"), 404)


def test_an_unreadable_payload_is_null_not_an_error(api, calls):
    callback = EventCallback.objects.order_by("id").first()
    EventCallback.objects.filter(pk=callback.pk).update(payload_encrypted="not a token")
    response = api.get(f"/api/event_callbacks/{callback.pk}")
    assert response.status_code == 200
    assert response.doc["data"]["attributes"]["payload"] is None
    # Readable, but not JSON: null too.
    EventCallback.objects.filter(pk=callback.pk).update(payload_encrypted=codes.encrypt("{"))
    assert (
        api.get(f"/api/event_callbacks/{callback.pk}").doc["data"]["attributes"]["payload"] is None
    )


def test_a_call_without_an_answer_has_no_response_code(api, tenant, actor, make_card, settings):
    settings.WEBHOOK_ALLOW_LOOPBACK_HTTP = True
    settings.WEBHOOK_CONNECT_TIMEOUT = 1
    # Port 9 (discard) on loopback: nobody listens, the connection is refused.
    webhooks.webhook_create(
        tenant=tenant, actor=actor, topic="gift_cards.create", callback_url="http://127.0.0.1:9/x"
    )
    make_card()
    work.drain(rounds=1)
    [callback] = api.get("/api/event_callbacks").doc["data"]
    assert callback["attributes"]["response_code"] is None
    assert callback["attributes"]["response_message"]
    blank = api.get("/api/event_callbacks", {"filter[q][response_code_blank]": "true"})
    assert [c["id"] for c in blank.doc["data"]] == [callback["id"]]


@pytest.mark.parametrize(
    "params,which",
    [
        ({"filter[response_code]": "503"}, [1]),
        ({"filter[q][response_code_in]": "200,503"}, [0, 1]),
        ({"filter[q][response_code_start]": "2"}, [0]),
        ({"filter[q][created_at_gt]": "2000-01-01T00:00:00Z"}, [0, 1]),
        ({"filter[q][created_at_lt]": "2000-01-01T00:00:00Z"}, []),
        ({"sort": "response_code"}, [0, 1]),
        ({"sort": "-response_code"}, [1, 0]),
        ({"page[size]": 1, "page[number]": 2}, [1]),
    ],
)
def test_callbacks_filter_and_sort(api, calls, params, which):
    everything = [c["id"] for c in api.get("/api/event_callbacks").doc["data"]]
    response = api.get("/api/event_callbacks", params)
    assert response.status_code == 200, response.doc
    assert [c["id"] for c in response.doc["data"]] == [everything[n] for n in which]


def test_callbacks_filter_by_webhook(api, calls, tenant, actor):
    other = webhooks.webhook_create(
        tenant=tenant,
        actor=actor,
        topic="gift_cards.create",
        callback_url=calls["webhook"].callback_url,
    )
    mine = api.get("/api/event_callbacks", {"filter[webhook_id]": str(calls["webhook"].pk)})
    assert len(mine.doc["data"]) == 2
    none = api.get("/api/event_callbacks", {"filter[q][webhook_id_eq]": str(other.pk)})
    assert none.doc["data"] == []
    assert error(api.get("/api/event_callbacks", {"filter[webhook_id]": "x"}), 400)
    assert error(api.get("/api/event_callbacks", {"filter[payload]": "x"}), 400)


def test_another_tenants_callbacks_are_404s(api, other_api, test_mode_api, calls):
    callback_id = api.get("/api/event_callbacks").doc["data"][0]["id"]
    for client in (other_api, test_mode_api):
        assert client.get("/api/event_callbacks").doc["data"] == []
        assert error(client.get(f"/api/event_callbacks/{callback_id}"), 404)
        assert error(client.get(f"/api/event_callbacks/{callback_id}/webhook"), 404)
        filtered = client.get(
            "/api/event_callbacks", {"filter[webhook_id]": str(calls["webhook"].pk)}
        )
        assert filtered.doc["data"] == []


@pytest.mark.parametrize("method", ["post", "patch", "delete"])
def test_callbacks_are_read_only(api, calls, method):
    callback_id = api.get("/api/event_callbacks").doc["data"][0]["id"]
    body = resource("event_callbacks", {"response_code": "200"})
    for path in ("/api/event_callbacks", f"/api/event_callbacks/{callback_id}"):
        response = api.request(method, path, body=body if method != "delete" else None)
        assert error(response, 405)
    assert EventCallback.objects.count() == 2
