"""The JSON:API's OpenAPI document (/api/schema/jsonapi, and /api/schema with both APIs) is
valid OpenAPI 3, and every operation it documents answers a real request with a body of the
documented shape (checked with the OpenAPI 3.0 schema validator, undocumented members
refused). A route added without its description fails here."""

from __future__ import annotations

import itertools
import json
import re

import pytest
from openapi_schema_validator import OAS30WriteValidator
from openapi_spec_validator import validate as validate_spec

from giftcards.events import work
from giftcards.models import GiftCard, Status
from tests.giftcards.export_helpers import run_export
from tests.giftcards.jsonapi.conftest import resource
from tests.openapi_conformance import Conformance

PARAMETER = re.compile(r"\{(\w+)\}")
N = itertools.count()  # unique names of the resources made


@pytest.fixture
def documents(anonymous):
    found = {}
    for name in ("", "/jsonapi", "/plain"):
        response = anonymous.client.get(f"/api/schema{name}", {"format": "json"})
        assert response.status_code == 200, response.content[:300]
        found[name] = json.loads(response.content)
    return found


def test_the_documents_are_valid_openapi(documents):
    for document in documents.values():
        validate_spec(document)
    both, jsonapi, plain = documents[""], documents["/jsonapi"], documents["/plain"]
    assert set(both["paths"]) == set(jsonapi["paths"]) | set(plain["paths"])
    assert all(path.startswith("/api/") for path in jsonapi["paths"])
    assert not any(path.startswith("/api/") for path in plain["paths"])


def test_every_route_of_the_jsonapi_is_documented(documents):
    paths = documents["/jsonapi"]["paths"]
    expected = {
        "/api/gift_cards",
        "/api/gift_cards/{id}",
        "/api/gift_cards/lookup",
        "/api/gift_card_recipients/{id}",
        "/api/markets/{id}",
        "/api/tags/{id}",
        "/api/versions/{id}",
        "/api/balance_transfers/{id}",
        "/api/imports/{id}",
        "/api/exports/{id}",
        "/api/exports/{id}/download",
        "/api/webhooks/{id}",
        "/api/events/{id}",
        "/api/event_callbacks/{id}",
        "/api/attachments/{id}",
        *(
            f"/api/gift_cards/{{id}}/{name}"
            for name in ("market", "gift_card_recipient", "tags", "versions", "attachments")
        ),
        *(
            f"/api/gift_cards/{{id}}/relationships/{name}"
            for name in ("market", "gift_card_recipient", "tags", "attachments", "events")
        ),
    }
    assert expected <= set(paths)
    card = paths["/api/gift_cards/{id}"]
    assert set(card) == {"get", "patch", "delete"}
    assert set(paths["/api/balance_transfers/{id}"]) == {"get"}
    assert set(paths["/api/versions/{id}"]) == {"get"}


def test_the_card_list_documents_filters_sorts_pages_includes_and_fields(documents):
    operation = documents["/jsonapi"]["paths"]["/api/gift_cards"]["get"]
    names = {parameter["name"] for parameter in operation["parameters"]}
    assert {"include", "sort", "page[number]", "page[size]", "fields[gift_cards]"} <= names
    assert {"filter[q][status_eq]", "filter[q][balance_cents_gteq]", "filter[q][code_eq]"} <= names
    assert {"filter[q][metadata_jcont]", "filter[q][reference_cont]"} <= names
    status = next(p for p in operation["parameters"] if p["name"] == "filter[q][status_in]")
    assert status["schema"]["items"]["enum"] == list(Status.values)
    sort = next(p for p in operation["parameters"] if p["name"] == "sort")
    assert {"created_at", "-created_at", "code"} <= set(sort["schema"]["items"]["enum"])


def test_an_empty_sparse_fieldset_is_documented_as_the_server_answers_it(
    api, create_card, documents
):
    card = create_card()
    operation = documents["/jsonapi"]["paths"]["/api/gift_cards/{id}"]["get"]
    fields = next(p for p in operation["parameters"] if p.get("name") == "fields[gift_cards]")
    assert "" in fields["schema"]["items"]["enum"]

    response = api.get(f"/api/gift_cards/{card['id']}?fields[gift_cards]=")

    assert response.status_code == 200
    assert set(response.doc["data"]) == {"type", "id", "links", "meta"}


def test_the_documented_jcont_value_is_what_the_filter_takes(api, create_card, documents):
    create_card(metadata={"note": "x" * 300, "shop": {"city": "Turin"}})
    operation = documents["/jsonapi"]["paths"]["/api/gift_cards"]["get"]
    jcont = next(p for p in operation["parameters"] if p.get("name") == "filter[q][metadata_jcont]")
    schema = jcont["content"]["application/json"]["schema"]
    taken = {"note": "x" * 300, "shop": {"city": "Turin"}}
    OAS30WriteValidator(schema).validate(taken)

    response = api.get("/api/gift_cards", params={"filter[q][metadata_jcont]": json.dumps(taken)})

    assert response.status_code == 200, response.content
    assert len(response.doc["data"]) == 1
    assert not OAS30WriteValidator(schema).is_valid({})
    assert api.get("/api/gift_cards", params={"filter[q][metadata_jcont]": "{}"}).status_code == 400


def test_no_documented_id_is_the_lookup_route(api, create_card, documents):
    card = create_card()
    schema = documents["/jsonapi"]["components"]["parameters"]["Id"]["schema"]
    assert re.search(schema["pattern"], card["id"])
    assert not re.search(schema["pattern"], "lookup")
    # A stateful client may still reach the lookup route through the card's URL (schemathesis
    # infers links from URLs it has seen): its 405s are documented on the card's operations.
    card_path = documents["/jsonapi"]["paths"]["/api/gift_cards/{id}"]
    answers = {
        "get": api.get("/api/gift_cards/lookup"),
        "patch": api.patch("/api/gift_cards/lookup", {"data": {}}),
        "delete": api.delete("/api/gift_cards/lookup"),
    }
    for method, response in answers.items():
        assert response.status_code == 405, method
        assert "405" in card_path[method]["responses"], method


def test_triggers_are_write_only_and_computed_attributes_read_only(documents):
    schemas = documents["/jsonapi"]["components"]["schemas"]
    update = schemas["GiftCardUpdateAttributes"]["properties"]
    for trigger in ("_purchase", "_activate", "_deactivate", "_balance_change_cents"):
        assert update[trigger]["writeOnly"] is True
    assert "_activate" not in schemas["GiftCardCreateAttributes"]["properties"]
    shown = schemas["GiftCardAttributes"]["properties"]
    assert shown["formatted_balance"]["readOnly"] is True
    assert shown["balance_max_cents"]["nullable"] is True
    assert "_activate" not in shown


def test_write_operations_document_their_headers_and_refusals(documents):
    paths = documents["/jsonapi"]["paths"]
    patch = paths["/api/gift_cards/{id}"]["patch"]
    headers = {p["$ref"].rsplit("/", 1)[-1] for p in patch["parameters"] if "$ref" in p}
    assert {"IfMatch", "IdempotencyKey"} <= headers
    assert {"400", "401", "404", "409", "412", "415", "422", "429"} <= set(patch["responses"])
    assert "304" in paths["/api/gift_cards/{id}"]["get"]["responses"]
    post = paths["/api/balance_transfers"]["post"]
    assert any(p.get("$ref", "").endswith("IdempotencyKey") for p in post["parameters"])


def test_every_request_example_matches_its_schema(documents):
    document = documents["/jsonapi"]
    found = 0
    for operations in document["paths"].values():
        for operation in operations.values():
            body = operation.get("requestBody", {}).get("content", {})
            for media in body.values():
                validator = OAS30WriteValidator({**media["schema"], **document})
                for name, example in media.get("examples", {}).items():
                    found += 1
                    errors = list(validator.iter_errors(example["value"]))
                    assert not errors, (operation["operationId"], name, errors[0].message)
    assert found >= 8


def test_writes_document_idempotency_keys_where_the_api_honours_them(documents):
    paths = documents["/jsonapi"]["paths"]

    def takes_key(operation):
        return any(p.get("$ref", "").endswith("IdempotencyKey") for p in operation["parameters"])

    for path in ("/api/gift_cards", "/api/balance_transfers", "/api/imports", "/api/exports"):
        assert takes_key(paths[path]["post"]), path
    assert takes_key(paths["/api/gift_cards/{id}"]["patch"])
    assert not takes_key(paths["/api/tags"]["post"])


# ---------------------------------------------------------------------------- real answers


def fill(path: str, **values) -> str:
    return PARAMETER.sub(lambda m: str(values[m[1]]), path)


@pytest.fixture
def world(api, create_card, receiver, loopback_http):
    """One of every resource, made through the API where it can be."""
    market = api.post("/api/markets", resource("markets", {"name": "EU", "currency_code": "EUR"}))
    recipient = api.post(
        "/api/gift_card_recipients", resource("gift_card_recipients", {"email": "a@example.com"})
    )
    tag = api.post("/api/tags", resource("tags", {"name": "promo"}))
    card = create_card(
        currency_code="EUR",
        relationships={
            "market": {"type": "markets", "id": market.doc["data"]["id"]},
            "gift_card_recipient": {
                "type": "gift_card_recipients",
                "id": recipient.doc["data"]["id"],
            },
        },
    )
    card_id = card["id"]
    for attributes in ({"_purchase": True}, {"_activate": True}, {"_add_tags": "promo"}):
        response = api.patch(
            f"/api/gift_cards/{card_id}", resource("gift_cards", attributes, id_=card_id)
        )
        assert response.status_code == 200, response.doc
    other = create_card(currency_code="EUR")
    for attributes in ({"_purchase": True}, {"_activate": True}):
        api.patch(
            f"/api/gift_cards/{other['id']}", resource("gift_cards", attributes, id_=other["id"])
        )
    transfer = api.post(
        "/api/balance_transfers",
        resource(
            "balance_transfers",
            {"amount_cents": 100},
            {
                "source": {"type": "gift_cards", "id": card_id},
                "target": {"type": "gift_cards", "id": other["id"]},
            },
        ),
    )
    assert transfer.status_code == 201, transfer.doc
    attachment = api.post(
        "/api/attachments",
        resource(
            "attachments",
            {"name": "receipt", "url": "https://files.example.com/r.pdf"},
            {"attachable": {"type": "gift_cards", "id": card_id}},
        ),
    )
    assert attachment.status_code == 201, attachment.doc
    webhook = api.post(
        "/api/webhooks",
        resource(
            "webhooks",
            {"topic": "gift_cards.balance_change", "callback_url": receiver.url},
        ),
    )
    assert webhook.status_code == 201, webhook.doc
    debit = resource("gift_cards", {"_balance_change_cents": -100}, id_=card_id)
    api.patch(f"/api/gift_cards/{card_id}", debit)
    work.drain(rounds=1)
    receiver.wait_for(1)
    callbacks = api.get("/api/event_callbacks")
    export = api.post("/api/exports", resource("exports", {"resource_type": "gift_cards"}))
    assert export.status_code == 201, export.doc
    run_export(export.doc["data"]["id"])
    exported = api.get(f"/api/exports/{export.doc['data']['id']}")
    job = api.post(
        "/api/imports",
        resource(
            "imports",
            {
                "resource_type": "gift_cards",
                "inputs": [{"code": "IMPORTED-0001", "currency_code": "EUR", "balance_cents": 1}],
            },
        ),
    )
    assert job.status_code == 201, job.doc
    versions = api.get(f"/api/gift_cards/{card_id}/versions")
    events = api.get("/api/events")
    return {
        "gift_cards": card_id,
        "other_card": other["id"],
        "callback_url": receiver.url,
        "markets": market.doc["data"]["id"],
        "gift_card_recipients": recipient.doc["data"]["id"],
        "tags": tag.doc["data"]["id"],
        "balance_transfers": transfer.doc["data"]["id"],
        "attachments": attachment.doc["data"]["id"],
        "webhooks": webhook.doc["data"]["id"],
        "event_callbacks": callbacks.doc["data"][0]["id"],
        "exports": export.doc["data"]["id"],
        "download": exported.doc["data"]["attributes"]["attachment_url"],
        "imports": job.doc["data"]["id"],
        "versions": versions.doc["data"][0]["id"],
        "events": next(
            e["id"] for e in events.doc["data"] if e["attributes"]["name"].startswith("gift_cards")
        ),
    }


# Bodies of the writes, by resource type; PATCHes change something harmless.
CREATE = {
    "gift_cards": lambda w: resource("gift_cards", {"balance_cents": 500, "currency_code": "EUR"}),
    "markets": lambda w: resource("markets", {"name": f"US{next(N)}", "currency_code": "USD"}),
    "gift_card_recipients": lambda w: resource(
        "gift_card_recipients", {"email": f"b{next(N)}@example.com"}
    ),
    "tags": lambda w: resource("tags", {"name": f"vip{next(N)}"}),
    "attachments": lambda w: resource(
        "attachments", {"name": "note"}, {"attachable": {"type": "markets", "id": w["markets"]}}
    ),
    "webhooks": lambda w: resource(
        "webhooks", {"topic": "gift_cards.activate", "callback_url": w["callback_url"]}
    ),
    "exports": lambda w: resource("exports", {"resource_type": "gift_cards", "format": "json"}),
    "imports": lambda w: resource(
        "imports", {"resource_type": "gift_cards", "inputs": [], "dry_run": True}
    ),
    "balance_transfers": lambda w: resource(
        "balance_transfers",
        {"amount_cents": 1},
        {
            "source": {"type": "gift_cards", "id": w["gift_cards"]},
            "target": {"type": "gift_cards", "id": w["other_card"]},
        },
    ),
}
UPDATE = {
    "gift_cards": {"reference": "changed"},
    "markets": {"name": "Europe"},
    "gift_card_recipients": {"first_name": "Ada"},
    "tags": {"name": "promo-2"},
    "attachments": {"description": "changed"},
    "webhooks": {"name": "changed"},
    "exports": {"_interrupt": True},
    "imports": {"_interrupt": True},
}


def test_every_operation_answers_with_its_documented_shape(api, world, documents):
    document = documents["/jsonapi"]
    conformance = Conformance(document)
    deletes = []
    for path, operations in document["paths"].items():
        type_ = path.split("/")[2]
        for method in operations:
            if method == "delete" and "/relationships/" not in path:
                deletes.append(path)
                continue
            owner = world.get(type_)
            if path.endswith("/download"):
                url = world["download"].split("testserver", 1)[1]
                response = api.client.get(url, headers={"Authorization": f"Bearer {api.secret}"})
            elif "{id}" in path:
                url = fill(path, id=owner)
                if method == "get":
                    response = api.get(url)
                elif method == "patch" and "/relationships/" not in path:
                    if type_ == "exports":  # only a pending or running export stops
                        owner = api.post(path.split("/{")[0], CREATE[type_](world)).doc["data"][
                            "id"
                        ]
                        url = fill(path, id=owner)
                    body = resource(type_, UPDATE[type_], id_=owner)
                    response = api.patch(url, body)
                elif method in ("patch", "post"):
                    response = api.request(method, url, body={"data": []})
                else:
                    response = api.delete(url)
            elif path.endswith("/lookup"):
                code = api.get(f"/api/gift_cards/{world['gift_cards']}").doc["data"]
                body = {"data": {"type": "gift_card_lookups", "attributes": {}}}
                body["data"]["attributes"]["code"] = code["attributes"]["code"]
                response = api.post(path, body)
            elif method == "get":
                response = api.get(path)
            else:
                response = api.post(path, CREATE[type_](world))
            assert response.status_code < 500, (method, path)
            if method == "get" or (method in ("post", "patch") and "/relationships/" not in path):
                assert response.status_code < 300, (method, path, response.content[:400])
            conformance.check(method, path, response)
    # Deletes last, each on a resource made for it.
    for path in deletes:
        type_ = path.split("/")[2]
        made = api.post(f"/api/{type_}", CREATE[type_](world))
        assert made.status_code == 201, (type_, made.content[:300])
        made_id = made.doc["data"]["id"]
        if type_ == "exports":  # a job is deleted once finished
            run_export(made_id)
        elif type_ == "imports":
            api.patch(fill(path, id=made_id), resource(type_, {"_interrupt": True}, id_=made_id))
        response = api.delete(fill(path, id=made_id))
        assert response.status_code == 204, (path, response.content[:300])
        conformance.check("delete", path, response)
    documented = {
        (method, path) for path, operations in document["paths"].items() for method in operations
    }
    assert documented == conformance.seen


def test_error_answers_have_the_documented_error_shape(api, anonymous, documents, world):
    conformance = Conformance(documents["/jsonapi"])
    card = f"/api/gift_cards/{world['gift_cards']}"
    cases = [
        ("get", "/api/gift_cards/{id}", api.get("/api/gift_cards/nothing-here-at-all00")),
        ("get", "/api/gift_cards", api.get("/api/gift_cards", {"filter[q][nope_eq]": "1"})),
        ("get", "/api/gift_cards", api.get("/api/gift_cards", {"sort": "nope"})),
        ("get", "/api/gift_cards", anonymous.get("/api/gift_cards")),
        (
            "patch",
            "/api/gift_cards/{id}",
            api.patch(card, resource("gift_cards", {"balance_cents": -5}, id_=world["gift_cards"])),
        ),
        (
            "patch",
            "/api/gift_cards/{id}",
            api.patch(
                card,
                resource("gift_cards", {"reference": "x"}, id_=world["gift_cards"]),
                **{"If-Match": '"stale"'},
            ),
        ),
        ("post", "/api/tags", api.post("/api/tags", resource("tags", {"name": "promo"}))),
        ("post", "/api/tags", api.post("/api/tags", "{}", content_type="application/json")),
    ]
    statuses = set()
    for method, path, response in cases:
        assert response.status_code >= 400
        statuses.add(response.status_code)
        conformance.check(method, path, response)
    assert {400, 401, 404, 409, 412, 415, 422} <= statuses


def test_a_card_is_retrieved_and_debited_as_the_document_says(api, world, documents):
    """The document's example flow: read, then write with If-Match (ETag)."""
    conformance = Conformance(documents["/jsonapi"])
    card_id = world["gift_cards"]
    read = api.get(f"/api/gift_cards/{card_id}")
    conformance.check("get", "/api/gift_cards/{id}", read)
    debit = api.patch(
        f"/api/gift_cards/{card_id}",
        resource("gift_cards", {"_balance_change_cents": -50}, id_=card_id),
        **{"If-Match": read["ETag"], "Idempotency-Key": "debit-1"},
    )
    assert debit.status_code == 200, debit.doc
    conformance.check("patch", "/api/gift_cards/{id}", debit)
    card = GiftCard.objects.get(pk=card_id)
    assert card.balance_cents == debit.doc["data"]["attributes"]["balance_cents"]
    assert debit["ETag"] != read["ETag"]
