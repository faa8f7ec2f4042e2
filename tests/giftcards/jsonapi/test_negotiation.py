"""Media types, document shape, auth and routing errors, all as JSON:API error documents."""

from __future__ import annotations

import json

import pytest
from django.test import override_settings

from giftcards.models import GiftCard
from tests.giftcards.jsonapi.conftest import MEDIA_TYPE, resource
from tests.giftcards.jsonapi.helpers import card_url, error

CREATE = resource("gift_cards", {"balance_cents": 100})


@pytest.mark.parametrize(
    "content_type",
    [
        "application/json",
        f"{MEDIA_TYPE}; charset=utf-8",
        f'{MEDIA_TYPE}; ext="https://jsonapi.org/ext/atomic"',
        "text/plain",
        "",
    ],
)
def test_wrong_content_type_is_a_415(api, content_type):
    response = api.request("post", "/api/gift_cards", body=CREATE, content_type=content_type)
    assert error(response, 415)["code"] == "UNSUPPORTED_MEDIA_TYPE"
    assert not GiftCard.objects.exists()


def test_wrong_content_type_on_patch_is_a_415(api, create_card):
    card = create_card()
    body = resource("gift_cards", {"reference": "x"}, id_=card["id"])
    response = api.request(
        "patch", card_url(card["id"]), body=body, content_type="application/json"
    )
    error(response, 415)


@pytest.mark.parametrize(
    "accept",
    [
        "application/json",
        "text/html",
        f"{MEDIA_TYPE}; ext=foo",
        f"{MEDIA_TYPE}; profile=x, application/json",
        f"{MEDIA_TYPE}; q=0",
    ],
)
def test_unacceptable_accept_is_a_406(api, accept):
    assert error(api.get("/api/gift_cards", Accept=accept), 406)["code"] == "NOT_ACCEPTABLE"


@pytest.mark.parametrize(
    "accept",
    [
        None,
        "*/*",
        "application/*",
        MEDIA_TYPE,
        f"{MEDIA_TYPE}; ext=foo, {MEDIA_TYPE}",
        f"text/html, {MEDIA_TYPE};q=0.5",
    ],
)
def test_acceptable_accept(api, accept):
    response = api.get("/api/gift_cards", Accept=accept)
    assert response.status_code == 200
    assert response["Content-Type"] == MEDIA_TYPE


def test_type_not_of_the_endpoint_is_a_409(api):
    response = api.post("/api/gift_cards", resource("tags", {"balance_cents": 1}))
    assert error(response, 409)["source"]["pointer"] == "/data/type"


def test_id_not_of_the_url_is_a_409(api, create_card):
    card, other = create_card(), create_card()
    body = resource("gift_cards", {"reference": "x"}, id_=other["id"])
    assert error(api.patch(card_url(card["id"]), body), 409)["source"]["pointer"] == "/data/id"


def test_client_generated_id_is_a_403(api):
    body = resource("gift_cards", {"balance_cents": 1}, id_="rSnVGKkHSGCYfalfOuae1g")
    assert error(api.post("/api/gift_cards", body), 403)["source"]["pointer"] == "/data/id"


@pytest.mark.parametrize(
    "body,pointer",
    [
        ({"type": "gift_cards"}, ""),
        ({"data": []}, "/data"),
        ({"data": None}, "/data"),
        ({"data": {"attributes": {"balance_cents": 1}}}, "/data/type"),
        ({"data": {"type": "gift_cards", "attributes": []}}, "/data/attributes"),
        (
            {"data": {"type": "gift_cards", "relationships": {"market": "1"}}},
            "/data/relationships/market",
        ),
        ([1, 2], ""),
    ],
)
def test_malformed_documents_are_400s_pointing_at_the_problem(api, body, pointer):
    assert error(api.post("/api/gift_cards", body), 400)["source"]["pointer"] == pointer


def test_patch_without_id_is_a_400(api, create_card):
    card = create_card()
    response = api.patch(card_url(card["id"]), resource("gift_cards", {"reference": "x"}))
    assert error(response, 400)["source"]["pointer"] == "/data/id"


@pytest.mark.parametrize("raw", ["{not json", '{"data": NaN}', "null", "[]"])
def test_unparseable_bodies_are_400s(api, raw):
    response = api.request("post", "/api/gift_cards", body=raw)
    assert response.status_code == 400, response.doc


@pytest.mark.parametrize("depth", [950, 5_000, 100_000])
def test_deeply_nested_json_is_a_400_not_a_crash(api, depth):
    nested = "[" * depth + "]" * depth
    attributes = f'{{"balance_cents": 1, "metadata": {{"a": {nested}}}}}'
    raw = f'{{"data": {{"type": "gift_cards", "attributes": {attributes}}}}}'

    response = api.request("post", "/api/gift_cards", body=raw)

    assert response.status_code == 400, response.doc
    assert not GiftCard.objects.exists()


@override_settings(DATA_UPLOAD_MAX_MEMORY_SIZE=1024)
def test_oversized_body_is_a_413(api):
    body = resource("gift_cards", {"balance_cents": 1, "metadata": {"x": "y" * 5000}})
    assert error(api.post("/api/gift_cards", body), 413)


def test_missing_or_bad_key_is_a_401(anonymous, db):
    response = anonymous.get("/api/gift_cards")
    assert error(response, 401)
    assert response["WWW-Authenticate"].startswith("Bearer")
    assert error(anonymous.get("/api/gift_cards", Authorization="Bearer nope.nope"), 401)


@pytest.mark.parametrize("method", ["put", "options"])
def test_unsupported_methods_are_405s(api, create_card, method):
    card = create_card()
    response = api.request(
        method, card_url(card["id"]), body=resource("gift_cards", {}, id_=card["id"])
    )
    assert error(response, 405)


@pytest.mark.parametrize("path", ["/api/gift_cards", "/api/markets", "/api/tags"])
def test_allow_lists_only_the_methods_that_work(api, path):
    allowed = {m.strip() for m in api.get(path)["Allow"].split(",")}
    assert allowed == {"GET", "POST", "HEAD"}
    assert error(api.request("options", path), 405)


@pytest.mark.parametrize("content_type", ["text/plain", "application/json", None])
@pytest.mark.parametrize("path", ["/api/gift_cards/{id}", "/api/gift_cards/{id}/market"])
def test_a_method_a_route_lacks_is_a_405_whatever_the_body(api, create_card, path, content_type):
    """A PUT with another media type, or none, was a 415 before its 405."""
    card = create_card()
    url = path.format(id=card["id"])
    headers = {"CONTENT_TYPE": content_type} if content_type else {}
    response = api.client.put(
        url, data="x", headers={"Authorization": f"Bearer {api.secret}"}, **headers
    )
    assert response.status_code == 405, response.content
    assert "PUT" not in response["Allow"]


def test_post_on_a_resource_is_a_405(api, create_card):
    card = create_card()
    assert error(api.post(card_url(card["id"]), CREATE), 405)


@pytest.mark.parametrize(
    "path",
    [
        "/api/nothing",
        "/api/gift_cards/not-an-id",
        "/api/gift_cards/rSnVGKkHSGCYfalfOuae1g",
        "/api/gift_cards/rSnVGKkHSGCYfalfOuae1g/market",
        "/api/markets/abc",
        "/api/markets/99999999999999999999999",
        "/api/tags/0",
        "/api/versions/abc",
        "/api/gift_cards/a/b/c/d",
    ],
)
def test_unknown_paths_and_ids_are_jsonapi_404s(api, path):
    routes = ("/api/nothing", "/api/gift_cards/a/b/c/d")  # no such resource type
    code = "INVALID_RESOURCE" if path in routes else "RECORD_NOT_FOUND"
    assert error(api.get(path), 404)["code"] == code


def test_unknown_related_field_is_a_404(api, create_card):
    card = create_card()
    assert error(api.get(f"{card_url(card['id'])}/colours"), 404)["code"] == "INVALID_RESOURCE"
    path = f"{card_url(card['id'])}/relationships/versions"
    assert error(api.get(path), 404)["code"] == "INVALID_RESOURCE"


def test_error_documents_have_the_documented_members(api):
    response = api.post("/api/gift_cards", resource("gift_cards", {"balance_cents": "x"}))
    [problem] = response.doc["errors"]
    assert set(problem) == {"status", "code", "title", "detail", "source", "meta"}
    assert (problem["status"], problem["code"]) == ("422", "VALIDATION_ERROR")
    assert problem["detail"] == f"balance_cents - {problem['title']}"
    assert problem["meta"] == {"error": "invalid"}


def test_several_errors_at_once(api):
    body = resource("gift_cards", {"balance_cents": "x", "single_use": 1, "colour": "red"})
    response = api.post("/api/gift_cards", body)
    assert {e["source"]["pointer"] for e in response.doc["errors"]} == {
        "/data/attributes/balance_cents",
        "/data/attributes/single_use",
        "/data/attributes/colour",
    }
    assert json.loads(response.content)["errors"] == response.doc["errors"]
