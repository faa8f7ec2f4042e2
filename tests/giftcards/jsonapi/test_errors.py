"""The JSON:API's error objects answer as Commerce Layer's do: a 422 `VALIDATION_ERROR` for a
well-formed request that fails validation, Commerce Layer's upper-case codes for malformed
requests and the other statuses, our precise reason in `meta.error`, and `source` naming what
is at fault. Every response is also checked against the JSON:API schema (conftest)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from django.test import override_settings

from giftcards.jsonapi import errors
from giftcards.models import GiftCard
from giftcards.throttling import ApiKeyRateThrottle
from tests.giftcards.jsonapi.conftest import JsonApiClient, resource
from tests.giftcards.jsonapi.helpers import card_url, error, patch_card

DOCS = Path(__file__).resolve().parents[3] / "docs" / "errors.md"
MISSING_CARD = "rSnVGKkHSGCYfalfOuae1g"


def only(response, status: int, code: str) -> dict:
    """The response's only error, after checking its status, code and `meta.error`."""
    problem = error(response, status)
    assert problem["code"] == code, problem
    assert isinstance(problem["meta"]["error"], str) and problem["meta"]["error"], problem
    return problem


# ---------------------------------------------------------------------------- 422


def test_an_attribute_out_of_range_is_a_validation_error_in_commerce_layers_form(api):
    response = api.post("/api/gift_cards", resource("gift_cards", {"balance_cents": -1}))

    problem = only(response, 422, "VALIDATION_ERROR")
    assert problem["title"] == "Ensure this value is greater than or equal to 0."
    assert problem["detail"] == f"balance_cents - {problem['title']}"
    assert problem["meta"] == {"error": "min_value"}
    assert problem["source"] == {"pointer": "/data/attributes/balance_cents"}
    assert not GiftCard.objects.exists()


def test_a_missing_required_attribute_is_a_validation_error(api):
    problem = only(api.post("/api/gift_cards", resource("gift_cards", {})), 422, "VALIDATION_ERROR")
    assert problem["meta"] == {"error": "required"}
    assert problem["detail"].startswith("balance_cents - ")


def test_a_value_of_the_wrong_json_type_is_a_validation_error(api):
    body = resource("gift_cards", {"balance_cents": "100"})
    problem = only(api.post("/api/gift_cards", body), 422, "VALIDATION_ERROR")
    assert (problem["meta"]["error"], problem["source"]["pointer"]) == (
        "invalid",
        "/data/attributes/balance_cents",
    )


def test_a_refusal_by_the_cards_state_is_a_validation_error_naming_the_status(api, create_card):
    card = create_card(status="active", balance_cents=1_000)

    response = patch_card(api, card["id"], {"_balance_change_cents": -1_001})

    problem = only(response, 422, "VALIDATION_ERROR")
    assert problem["meta"] == {"error": "insufficient_balance"}
    assert problem["detail"] == f"_balance_change_cents - {problem['title']}"
    assert problem["source"] == {"pointer": "/data/attributes/_balance_change_cents"}
    draft = create_card()
    problem = only(patch_card(api, draft["id"], {"_deactivate": True}), 422, "VALIDATION_ERROR")
    assert problem["meta"] == {"error": "illegal_transition"}
    assert "draft" in problem["detail"]


def test_a_relationship_error_names_the_relationship(api):
    body = resource(
        "balance_transfers",
        {"amount_cents": 100},
        {"source": {"type": "gift_cards", "id": 5}, "target": None},
    )
    response = api.post("/api/balance_transfers", body)

    assert response.status_code == 422, response.doc
    found = {e["source"]["pointer"]: e for e in response.doc["errors"]}
    assert found["/data/relationships/target"]["detail"].startswith("target - ")
    assert found["/data/relationships/source"]["detail"].startswith("source - ")


def test_a_reused_idempotency_key_is_a_validation_error_naming_the_header(api, create_card):
    card = create_card(status="active", balance_cents=5_000)
    key = {"Idempotency-Key": "k-1"}
    patch_card(api, card["id"], {"_balance_change_cents": -100}, **key)

    response = patch_card(api, card["id"], {"_balance_change_cents": -200}, **key)

    problem = only(response, 422, "VALIDATION_ERROR")
    assert problem["source"] == {"header": "Idempotency-Key"}
    assert problem["detail"].startswith("Idempotency-Key - ")
    assert problem["meta"] == {"error": "idempotency_conflict"}


# ---------------------------------------------------------------------------- malformed: 400


@pytest.mark.parametrize(
    ("body", "code", "pointer"),
    [
        ("{not json", "BAD_REQUEST", None),
        ({"type": "gift_cards"}, "PARAM_MISSING", ""),
        ({"data": {"attributes": {"balance_cents": 1}}}, "PARAM_MISSING", "/data/type"),
        ({"data": []}, "INVALID_DATA_FORMAT", "/data"),
        (
            {"data": {"type": "gift_cards", "attributes": []}},
            "INVALID_DATA_FORMAT",
            "/data/attributes",
        ),
    ],
)
def test_a_malformed_document_stays_a_400(api, body, code, pointer):
    response = api.request("post", "/api/gift_cards", body=body)

    problem = only(response, 400, code)
    assert problem.get("source", {}).get("pointer") == pointer
    assert problem["title"] == errors.TITLES[code]


def test_an_update_without_its_id_is_a_400(api, create_card):
    card = create_card()
    response = api.patch(card_url(card["id"]), resource("gift_cards", {"reference": "x"}))
    problem = only(response, 400, "KEY_ORDER_MISMATCH")
    assert (problem["source"], problem["meta"]) == ({"pointer": "/data/id"}, {"error": "required"})


def test_an_unknown_or_read_only_attribute_is_a_param_not_allowed(api, create_card):
    body = resource("gift_cards", {"balance_cents": 1, "colour": "red"})
    problem = only(api.post("/api/gift_cards", body), 400, "PARAM_NOT_ALLOWED")
    assert (problem["source"], problem["meta"]) == (
        {"pointer": "/data/attributes/colour"},
        {"error": "unknown"},
    )
    card = create_card()
    problem = only(
        patch_card(api, card["id"], {"created_at": "2020-01-01T00:00:00Z"}),
        400,
        "PARAM_NOT_ALLOWED",
    )
    assert problem["meta"] == {"error": "read_only"}


def test_errors_of_both_kinds_are_all_reported_in_a_400(api):
    """JSON:API: several problems answer with the most generally applicable status; each
    error keeps its own."""
    body = resource("gift_cards", {"balance_cents": -1, "colour": "red"})
    response = api.post("/api/gift_cards", body)

    assert response.status_code == 400
    by_pointer = {e["source"]["pointer"]: (e["status"], e["code"]) for e in response.doc["errors"]}
    assert by_pointer == {
        "/data/attributes/balance_cents": ("422", "VALIDATION_ERROR"),
        "/data/attributes/colour": ("400", "PARAM_NOT_ALLOWED"),
    }


def test_an_invalid_idempotency_key_is_a_bad_request_naming_the_header(api):
    body = resource("gift_cards", {"balance_cents": 1})
    problem = only(
        api.post("/api/gift_cards", body, **{"Idempotency-Key": " "}), 400, "BAD_REQUEST"
    )
    assert problem["source"] == {"header": "Idempotency-Key"}
    assert problem["meta"] == {"error": "invalid_idempotency_key"}


# ---------------------------------------------------------------------------- query parameters


@pytest.mark.parametrize(
    ("path", "params", "code", "reason"),
    [
        ("/api/gift_cards", {"filter[q][colour_eq]": "red"}, "FILTER_NOT_ALLOWED", None),
        ("/api/gift_cards", {"filter[colour]": "red"}, "FILTER_NOT_ALLOWED", None),
        ("/api/gift_cards", {"filter[q][balance_cents_gt]": "ten"}, "INVALID_FILTER_VALUE", None),
        ("/api/gift_cards", {"filter[status]": ""}, "INVALID_FILTER_VALUE", None),
        ("/api/gift_cards", {"filter[q][status][x]": "draft"}, "INVALID_FILTERS_SYNTAX", None),
        ("/api/gift_cards", {"sort": "colour"}, "INVALID_SORT_CRITERIA", None),
        ("/api/gift_cards", {"include": "colours"}, "INVALID_INCLUDE", None),
        ("/api/gift_cards", {"fields[gift_cards]": "colour"}, "INVALID_FIELD", None),
        ("/api/gift_cards", {"fields[colours]": "name"}, "INVALID_RESOURCE", None),
        ("/api/gift_cards", {"page[size]": "100"}, "INVALID_PAGE_VALUE", "max_value"),
        ("/api/gift_cards", {"page[number]": "0"}, "INVALID_PAGE_VALUE", None),
        ("/api/gift_cards", {"page": "2"}, "INVALID_PAGE_OBJECT", None),
        ("/api/gift_cards", {"page[offset]": "2"}, "PARAM_NOT_ALLOWED", None),
        ("/api/gift_cards", {"colour": "red"}, "PARAM_NOT_ALLOWED", None),
        ("/api/tags/1", {"filter[name]": "vip"}, "FILTER_NOT_ALLOWED", None),
        ("/api/tags/1", {"sort": "name"}, "PARAM_NOT_ALLOWED", None),
    ],
)
def test_a_bad_query_parameter_is_a_400_with_commerce_layers_code(api, path, params, code, reason):
    problem = only(api.get(path, params), 400, code)
    (parameter,) = params
    assert problem["source"] == {"parameter": parameter}
    assert problem["meta"]["error"] == (reason or "invalid_parameter")
    assert problem["title"] == errors.TITLES[code]


def test_a_repeated_query_parameter_is_a_bad_request(api):
    problem = only(api.get("/api/gift_cards?sort=id&sort=code"), 400, "BAD_REQUEST")
    assert problem["source"] == {"parameter": "sort"}


# ---------------------------------------------------------------------------- other statuses


def test_a_missing_record_is_record_not_found_and_an_unknown_route_invalid_resource(api):
    problem = only(api.get(card_url(MISSING_CARD)), 404, "RECORD_NOT_FOUND")
    assert problem["title"] == "Record not found"
    assert problem["meta"] == {"error": "not_found"}
    only(api.get("/api/colours"), 404, "INVALID_RESOURCE")


def test_a_relationship_to_a_record_the_key_cannot_see_is_record_not_found(api):
    body = resource(
        "gift_cards", {"balance_cents": 1}, {"market": {"type": "markets", "id": "999"}}
    )
    problem = only(api.post("/api/gift_cards", body), 404, "RECORD_NOT_FOUND")
    assert problem["source"] == {"pointer": "/data/relationships/market"}
    assert problem["meta"] == {"error": "related_not_found"}


def test_media_types_are_unsupported_media_type_and_not_acceptable(api):
    body = resource("gift_cards", {"balance_cents": 1})
    response = api.request("post", "/api/gift_cards", body=body, content_type="application/json")
    only(response, 415, "UNSUPPORTED_MEDIA_TYPE")
    only(api.get("/api/gift_cards", Accept="text/html"), 406, "NOT_ACCEPTABLE")


def test_no_key_is_unauthorized_and_a_bad_key_an_invalid_token(db):
    problem = only(JsonApiClient(None).get("/api/gift_cards"), 401, "UNAUTHORIZED")
    assert problem["meta"] == {"error": "not_authenticated"}
    problem = only(JsonApiClient("abc.def").get("/api/gift_cards"), 401, "INVALID_TOKEN")
    assert problem["meta"] == {"error": "authentication_failed"}


def test_a_client_generated_id_is_forbidden(api):
    body = resource("gift_cards", {"balance_cents": 1}, id_=MISSING_CARD)
    problem = only(api.post("/api/gift_cards", body), 403, "FORBIDDEN")
    assert problem["source"] == {"pointer": "/data/id"}


def test_an_unsupported_method_is_method_not_allowed(api, create_card):
    card = create_card()
    only(api.post(card_url(card["id"]), resource("gift_cards", {})), 405, "METHOD_NOT_ALLOWED")


def test_conflicts_say_which(api, create_card):
    card = create_card(code="KEEP-THIS-CODE")
    wrong_type = api.patch(card_url(card["id"]), resource("markets", {}, id_=card["id"]))
    assert only(wrong_type, 409, "TYPE_MISMATCH")["source"] == {"pointer": "/data/type"}
    wrong_id = api.patch(card_url(card["id"]), resource("gift_cards", {}, id_=MISSING_CARD))
    assert only(wrong_id, 409, "KEY_NOT_INCLUDED_IN_URL")["source"] == {"pointer": "/data/id"}
    body = resource("gift_cards", {"balance_cents": 1, "code": "keep this code"})
    problem = only(api.post("/api/gift_cards", body), 409, "RECORD_NOT_UNIQUE")
    assert problem["meta"] == {"error": "duplicate_code"}


def test_a_stale_version_is_precondition_failed(api, create_card):
    card = create_card()
    etag = api.get(card_url(card["id"]))["ETag"]
    patch_card(api, card["id"], {"reference": "first"})

    stale = patch_card(api, card["id"], {"reference": "second"}, **{"If-Match": etag})

    problem = only(stale, 412, "PRECONDITION_FAILED")
    assert problem["source"] == {"header": "If-Match"}


@override_settings(DATA_UPLOAD_MAX_MEMORY_SIZE=1024)
def test_an_oversized_body_is_payload_too_large(api):
    body = resource("gift_cards", {"balance_cents": 1, "metadata": {"x": "y" * 5000}})
    assert only(api.post("/api/gift_cards", body), 413, "PAYLOAD_TOO_LARGE")["meta"] == {
        "error": "too_large"
    }


def test_too_many_requests_says_when_to_retry(api, monkeypatch):
    monkeypatch.setattr(
        ApiKeyRateThrottle, "THROTTLE_RATES", {"api_key": "1/min", "code_lookup": "100/min"}
    )
    assert api.get("/api/tags").status_code == 200

    response = api.get("/api/tags")

    problem = only(response, 429, "TOO_MANY_REQUESTS")
    assert problem["meta"] == {"error": "throttled"}
    assert int(response["Retry-After"]) > 0


# ---------------------------------------------------------------------------- the docs


def test_every_code_and_reason_is_documented():
    text = DOCS.read_text()
    codes = set(errors.TITLES) | set(errors.STATUS_CODES.values())
    missing = sorted(code for code in codes if f"`{code}`" not in text)
    assert not missing, f"docs/errors.md does not list {missing}"
    domain_reasons = {
        cls.code
        for cls in errors.DOMAIN_ERRORS
        if re.fullmatch(r"[a-z_]+", getattr(cls, "code", "") or "")
    }
    undocumented = sorted(reason for reason in domain_reasons if f"`{reason}`" not in text)
    assert not undocumented, f"docs/errors.md does not list the reasons {undocumented}"
