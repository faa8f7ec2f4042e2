"""`/api/webhooks`: CRUD through giftcards.events.webhooks, the `_disable`, `_enable` and
`_reset_circuit` triggers, refusals pointing at the attribute, tenancy, filters, and the last
event callbacks of a webhook. Callback URLs are on 127.0.0.1 (loopback allowed, as in
development) or public names answered by the stub resolver: no test leaves the machine."""

from __future__ import annotations

import pytest

from clients.tenancy import Mode, Tenant
from giftcards.events import webhooks
from giftcards.models import CircuitState, EventCallback, OutboxEvent, Webhook
from tests.giftcards.jsonapi.conftest import resource
from tests.giftcards.jsonapi.helpers import error, pointers
from tests.network_guard import stub_resolver

HOOK_URL = "http://127.0.0.1:9/hooks"
TRIGGERS = ("_disable", "_enable", "_reset_circuit")


@pytest.fixture(autouse=True)
def loopback(settings):
    settings.WEBHOOK_ALLOW_LOOPBACK_HTTP = True


def create(api, **attributes):
    attributes.setdefault("topic", "gift_cards.activate")
    attributes.setdefault("callback_url", HOOK_URL)
    return api.post("/api/webhooks", resource("webhooks", attributes))


def created(api, **attributes) -> dict:
    response = create(api, **attributes)
    assert response.status_code == 201, response.doc
    return response.doc["data"]


def patch(api, webhook_id, attributes):
    body = resource("webhooks", attributes, id_=webhook_id)
    return api.patch(f"/api/webhooks/{webhook_id}", body)


def test_webhook_crud(api):
    response = create(
        api,
        name="erp",
        topic="gift_cards.balance_change",
        include_resources=["market", "tags"],
        reference="R-1",
        metadata={"team": "finance"},
    )
    assert response.status_code == 201, response.doc
    data = response.doc["data"]
    assert response["Location"] == data["links"]["self"]
    assert data["type"] == "webhooks"
    assert data["meta"] == {"mode": "live"}
    attributes = data["attributes"]
    assert list(attributes) == [
        "name",
        "topic",
        "callback_url",
        "include_resources",
        "disabled_at",
        "circuit_state",
        "circuit_failure_count",
        "shared_secret",
        "created_at",
        "updated_at",
        "reference",
        "reference_origin",
        "metadata",
    ]
    assert attributes["include_resources"] == ["market", "tags"]
    assert (attributes["circuit_state"], attributes["circuit_failure_count"]) == ("closed", 0)
    assert attributes["disabled_at"] is None
    stored = Webhook.objects.get(pk=data["id"])
    assert attributes["shared_secret"] == stored.shared_secret
    assert attributes["shared_secret"].startswith("whsec_")
    assert data["relationships"] == {
        "last_event_callbacks": {
            "links": {
                "self": f"{data['links']['self']}/relationships/last_event_callbacks",
                "related": f"{data['links']['self']}/last_event_callbacks",
            }
        }
    }

    url = f"/api/webhooks/{data['id']}"
    assert api.get(url).doc["data"] == data
    assert [w["id"] for w in api.get("/api/webhooks").doc["data"]] == [data["id"]]
    patched = patch(api, data["id"], {"name": "erp-2", "topic": "gift_cards.activate"})
    assert patched.status_code == 200, patched.doc
    assert patched.doc["data"]["attributes"]["name"] == "erp-2"
    # The includes still have to fit the new topic's resource (cards: they do).
    assert patched.doc["data"]["attributes"]["include_resources"] == ["market", "tags"]

    assert api.delete(url).status_code == 204
    assert error(api.get(url), 404)
    assert not Webhook.objects.exists()


def test_a_public_https_name_is_accepted_when_it_resolves_to_public_addresses(api):
    with stub_resolver({"hooks.example.com": ["93.184.216.34"]}) as asked:
        data = created(api, callback_url="https://hooks.example.com/cl")
    assert asked == ["hooks.example.com"]
    assert data["attributes"]["callback_url"] == "https://hooks.example.com/cl"


def test_disable_enable_and_reset_circuit(api):
    data = created(api)
    url = f"/api/webhooks/{data['id']}"
    disabled = patch(api, data["id"], {"_disable": True}).doc["data"]["attributes"]
    assert disabled["disabled_at"] is not None
    assert Webhook.objects.get(pk=data["id"]).is_disabled
    assert not set(TRIGGERS) & set(disabled)
    again = patch(api, data["id"], {"_disable": True}).doc["data"]["attributes"]
    assert again["disabled_at"] == disabled["disabled_at"]  # disabling twice changes nothing
    enabled = patch(api, data["id"], {"_enable": True}).doc["data"]["attributes"]
    assert enabled["disabled_at"] is None

    Webhook.objects.filter(pk=data["id"]).update(
        circuit_state=CircuitState.OPEN, circuit_failure_count=30
    )
    opened = api.get(url).doc["data"]["attributes"]
    assert (opened["circuit_state"], opened["circuit_failure_count"]) == ("open", 30)
    reset = patch(api, data["id"], {"_reset_circuit": True}).doc["data"]["attributes"]
    assert (reset["circuit_state"], reset["circuit_failure_count"]) == ("closed", 0)
    stored = Webhook.objects.get(pk=data["id"])
    assert (stored.circuit_state, stored.circuit_failure_count) == ("closed", 0)


def test_triggers_with_attributes_are_one_change(api):
    data = created(api)
    response = patch(api, data["id"], {"name": "paused", "_disable": True})
    attributes = response.doc["data"]["attributes"]
    assert attributes["name"] == "paused" and attributes["disabled_at"] is not None
    refused = patch(api, data["id"], {"name": "x", "_enable": True, "topic": "nope"})
    assert error(refused, 422)["source"]["pointer"] == "/data/attributes/topic"
    stored = Webhook.objects.get(pk=data["id"])
    assert stored.name == "paused" and stored.is_disabled


def test_disable_on_create_and_false_triggers(api):
    assert created(api, _disable=True)["attributes"]["disabled_at"] is not None
    assert created(api, _enable=True)["attributes"]["disabled_at"] is None
    data = created(api, _disable=False)
    assert data["attributes"]["disabled_at"] is None
    assert (
        patch(api, data["id"], {"_disable": False}).doc["data"]["attributes"]["disabled_at"] is None
    )


@pytest.mark.parametrize(
    "attributes,pointer,status",
    [
        ({"callback_url": "http://hooks.example.com/x"}, "callback_url", 422),
        ({"callback_url": "https://10.0.0.1/x"}, "callback_url", 422),
        ({"callback_url": "https://169.254.169.254/latest"}, "callback_url", 422),
        ({"callback_url": "https://[::ffff:10.0.0.1]/x"}, "callback_url", 422),
        ({"callback_url": "ftp://127.0.0.1/x"}, "callback_url", 422),
        ({"callback_url": "https://user:pw@127.0.0.1/x"}, "callback_url", 422),
        ({"callback_url": "https://127.0.0.1/" + "x" * 2000}, "callback_url", 422),
        ({"callback_url": 5}, "callback_url", 422),
        ({"callback_url": None}, "callback_url", 422),
        ({"topic": "orders.place"}, "topic", 422),
        ({"topic": ""}, "topic", 422),
        ({"include_resources": ["nope"]}, "include_resources", 422),
        ({"include_resources": "market"}, "include_resources", 422),
        ({"include_resources": [1]}, "include_resources/0", 422),
        (
            {"topic": "gift_card_recipients.create", "include_resources": ["market"]},
            "include_resources",
            422,
        ),
        ({"name": "x" * 256}, "name", 422),
        ({"metadata": [1]}, "metadata", 422),
        ({"shared_secret": "whsec_mine"}, "shared_secret", 400),
        ({"circuit_state": "open"}, "circuit_state", 400),
        ({"_reset_circuit": True}, "_reset_circuit", 422),
        ({"_disable": True, "_enable": True}, "_enable", 422),
        ({"_disable": "yes"}, "_disable", 422),
        ({"colour": "red"}, "colour", 400),
    ],
)
def test_bad_webhooks_are_refused_pointing_at_the_attribute(api, attributes, pointer, status):
    with stub_resolver({"hooks.example.com": ["93.184.216.34"]}):
        response = create(api, **attributes)
    assert error(response, status)["source"] == {"pointer": f"/data/attributes/{pointer}"}
    assert not Webhook.objects.exists()


def test_names_that_do_not_resolve_or_resolve_privately_are_refused(api):
    with stub_resolver({"inside.example.com": ["10.1.2.3", "93.184.216.34"]}):
        for url in ("https://inside.example.com/x", "https://nowhere.example.com/x"):
            problem = error(create(api, callback_url=url), 422)
            assert problem["source"]["pointer"] == "/data/attributes/callback_url"
            assert problem["meta"]["error"] == "invalid_callback_url"


def test_required_members_on_create(api):
    response = api.post("/api/webhooks", resource("webhooks", {}))
    assert response.status_code == 422
    assert pointers(response) == {"/data/attributes/topic", "/data/attributes/callback_url"}


def test_a_bad_update_changes_nothing(api):
    data = created(api, include_resources=["tags"])
    for attributes, pointer in (
        ({"callback_url": "https://10.0.0.1/x"}, "callback_url"),
        ({"include_resources": ["versions"]}, "include_resources"),
        (
            {"topic": "gift_card_recipients.create", "include_resources": ["tags"]},
            "include_resources",
        ),
        # The includes it has do not fit a recipient's payload.
        ({"topic": "gift_card_recipients.create"}, "include_resources"),
        ({"name": "x", "_disable": True, "_enable": True}, "_enable"),
    ):
        response = patch(api, data["id"], attributes)
        assert error(response, 422)["source"] == {"pointer": f"/data/attributes/{pointer}"}
    assert api.get(f"/api/webhooks/{data['id']}").doc["data"] == data


def test_read_only_attributes_sent_back_unchanged_are_accepted(api):
    data = created(api)
    attributes = {**data["attributes"], "name": "renamed"}
    response = patch(api, data["id"], attributes)
    assert response.status_code == 200, response.doc
    assert response.doc["data"]["attributes"]["name"] == "renamed"


def test_another_tenants_webhooks_are_404s(api, other_api, test_mode_api):
    data = created(api)
    url = f"/api/webhooks/{data['id']}"
    for client in (other_api, test_mode_api):
        assert error(client.get(url), 404)
        assert error(patch(client, data["id"], {"_disable": True}), 404)
        assert error(client.delete(url), 404)
        assert error(client.get(f"{url}/last_event_callbacks"), 404)
        assert client.get("/api/webhooks").doc["data"] == []
    assert Webhook.objects.get(pk=data["id"]).disabled_at is None


@pytest.mark.parametrize(
    "params,expected",
    [
        ({"filter[topic]": "gift_cards.redeem"}, ["b"]),
        ({"filter[q][name_cont]": "A"}, ["a"]),
        ({"filter[q][topic_start]": "gift_cards."}, ["a", "b"]),
        ({"filter[circuit_state]": "open"}, ["b"]),
        ({"filter[q][disabled_at_null]": "false"}, ["a"]),
        ({"filter[metadata]": '{"team": "ops"}'}, ["b"]),
        ({"filter[q][callback_url_end]": "/b"}, ["b"]),
        ({"filter[reference]": "R-A"}, ["a"]),
        ({"sort": "-name"}, ["b", "a"]),
        ({"sort": "circuit_state,name"}, ["a", "b"]),
    ],
)
def test_webhooks_filter_and_sort(api, params, expected):
    a = created(api, name="a", reference="R-A", callback_url="http://127.0.0.1:9/a")
    b = created(
        api,
        name="b",
        topic="gift_cards.redeem",
        metadata={"team": "ops"},
        callback_url="http://127.0.0.1:9/b",
    )
    patch(api, a["id"], {"_disable": True})
    Webhook.objects.filter(pk=b["id"]).update(circuit_state="open")
    response = api.get("/api/webhooks", params)
    assert response.status_code == 200, response.doc
    assert [w["attributes"]["name"] for w in response.doc["data"]] == expected


@pytest.mark.parametrize(
    "params",
    [{"filter[circuit_state]": "half"}, {"filter[shared_secret]": "x"}, {"sort": "callback_url"}],
)
def test_bad_webhook_queries_are_400s(api, params):
    assert error(api.get("/api/webhooks", params), 400)["source"] == {
        "parameter": next(iter(params))
    }


def test_a_webhooks_last_event_callbacks_newest_first(api, tenant, actor, make_card):
    data = created(api, topic="gift_cards.create")
    other = webhooks.webhook_create(
        tenant=tenant, actor=actor, topic="gift_cards.create", callback_url=HOOK_URL
    )
    make_card()
    event = OutboxEvent.objects.get(name="gift_cards.create")
    calls = [
        EventCallback.objects.create(
            business=tenant.business,
            mode=tenant.mode,
            webhook_id=hook,
            event=event,
            callback_url=HOOK_URL,
            payload_encrypted="",
            response_code=code,
        )
        for hook, code in ((data["id"], "500"), (data["id"], "200"), (other.pk, "200"))
    ]
    url = f"/api/webhooks/{data['id']}/last_event_callbacks"
    response = api.get(url, {"page[size]": 1})
    assert [c["id"] for c in response.doc["data"]] == [str(calls[1].pk)]
    assert response.doc["meta"] == {"record_count": 2, "page_count": 2}
    assert response.doc["links"]["next"].endswith("page%5Bnumber%5D=2&page%5Bsize%5D=1")
    linkage = api.get(f"/api/webhooks/{data['id']}/relationships/last_event_callbacks").doc
    assert linkage["data"] == [
        {"type": "event_callbacks", "id": str(calls[1].pk)},
        {"type": "event_callbacks", "id": str(calls[0].pk)},
    ]
    assert error(api.get(url, {"sort": "created_at"}), 400)
    assert error(api.get(url, {"include": "webhook"}), 400)


def test_deleting_a_webhook_deletes_its_callbacks(api, tenant, make_card):
    data = created(api, topic="gift_cards.create")
    make_card()
    EventCallback.objects.create(
        business=tenant.business,
        mode=tenant.mode,
        webhook_id=data["id"],
        event=OutboxEvent.objects.get(name="gift_cards.create"),
        callback_url=HOOK_URL,
        payload_encrypted="",
    )
    assert api.delete(f"/api/webhooks/{data['id']}").status_code == 204
    assert not EventCallback.objects.exists()


def test_a_webhook_of_the_test_mode_stays_there(test_mode_api, business, actor):
    data = created(test_mode_api)
    assert data["meta"] == {"mode": "test"}
    assert Webhook.objects.get(pk=data["id"]).mode == Mode.TEST
    tenant = Tenant(business=business, mode=Mode.TEST)
    assert Webhook.objects.for_tenant(tenant).count() == 1
