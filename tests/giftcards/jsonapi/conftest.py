"""JSON:API test clients: every response they receive is checked against the JSON:API 1.0
response schema, so no test can pass on a body a JSON:API client would reject."""

from __future__ import annotations

import json
import re
from pathlib import Path
from urllib.parse import urlencode

import jsonschema
import pytest
from django.core.cache import cache
from django.test import Client

from clients.services import api_key_create
from clients.tenancy import Mode, Tenant

MEDIA_TYPE = "application/vnd.api+json"
# The official JSON:API 1.0 response schema (jsonapi.org), kept beside the tests so a clean
# clone validates against it with nothing else checked out.
SCHEMA_PATH = Path(__file__).resolve().parent / "jsonapi-1.0-response-schema.json"
SCHEMA = json.loads(SCHEMA_PATH.read_text())


def _additional_properties(validator, additional, instance, schema):
    """`additionalProperties` as JSON Schema defines it.

    jsonschema 4.26 joins the `patternProperties` keys into one regex and skips it when the
    result is empty, so the schema's match-everything pattern `""` is ignored and every member
    of `attributes`, `meta` and `relationships` is reported as additional (python-jsonschema
    PR #1522). Here each pattern is searched on its own, `""` matching every name.
    """
    if not validator.is_type(instance, "object"):
        return
    properties = schema.get("properties", {})
    patterns = list(schema.get("patternProperties", {}))
    extras = [
        name
        for name in instance
        if name not in properties and not any(re.search(p, name) for p in patterns)
    ]
    if validator.is_type(additional, "object"):
        for extra in extras:
            yield from validator.descend(instance[extra], additional, path=extra)
    elif additional is False and extras:
        yield jsonschema.ValidationError(f"Additional properties are not allowed: {extras}")


def _validator(cls):
    fixed = jsonschema.validators.extend(cls, {"additionalProperties": _additional_properties})
    return fixed(SCHEMA)


# As declared (2020-12), and as draft 7 too, which also enforces the schema's `dependencies`
# (`included` needs `data`; `data` and `errors` never together).
VALIDATORS = (
    _validator(jsonschema.validators.validator_for(SCHEMA)),
    _validator(jsonschema.Draft7Validator),
)


def assert_jsonapi_document(body: dict) -> None:
    for validator in VALIDATORS:
        error = jsonschema.exceptions.best_match(validator.iter_errors(body))
        assert error is None, f"not JSON:API: {error.message} at {list(error.absolute_path)}"


class JsonApiClient:
    """A Django test client speaking JSON:API with one API key; validates every response."""

    def __init__(self, secret: str | None):
        self.client = Client()
        self.secret = secret
        self.responses = 0

    def request(self, method, path, *, params=None, body=None, content_type=MEDIA_TYPE, **headers):
        if params:
            path = f"{path}?{urlencode(params)}"
        headers.setdefault("Accept", MEDIA_TYPE)
        if self.secret:
            headers.setdefault("Authorization", f"Bearer {self.secret}")
        headers = {k: v for k, v in headers.items() if v is not None}
        kwargs = {"headers": headers}
        if body is not None:
            kwargs["data"] = body if isinstance(body, str | bytes) else json.dumps(body)
            kwargs["content_type"] = content_type
        elif content_type != MEDIA_TYPE and method in {"post", "patch"}:
            kwargs["content_type"] = content_type
        response = getattr(self.client, method)(path, **kwargs)
        self.check(response)
        return response

    def check(self, response) -> None:
        self.responses += 1
        if response.status_code == 204:
            assert response.content == b""
            response.doc = None
            return
        assert response["Content-Type"] == MEDIA_TYPE, response.content[:300]
        response.doc = json.loads(response.content)
        assert_jsonapi_document(response.doc)

    def get(self, path, params=None, **headers):
        return self.request("get", path, params=params, **headers)

    def post(self, path, body, params=None, **headers):
        return self.request("post", path, params=params, body=body, **headers)

    def patch(self, path, body, params=None, **headers):
        return self.request("patch", path, params=params, body=body, **headers)

    def delete(self, path, **headers):
        return self.request("delete", path, **headers)


def resource(type_, attributes=None, relationships=None, id_=None) -> dict:
    """A request document."""
    data = {"type": type_}
    if id_ is not None:
        data["id"] = id_
    if attributes is not None:
        data["attributes"] = attributes
    if relationships is not None:
        data["relationships"] = {name: {"data": value} for name, value in relationships.items()}
    return {"data": data}


@pytest.fixture(autouse=True)
def fresh_throttles():
    """Throttle counters live in the cache; each test starts with none."""
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def api(api_key):
    return JsonApiClient(api_key[1])


@pytest.fixture
def anonymous(db):
    return JsonApiClient(None)


@pytest.fixture
def other_api(other_business):
    """Another business, live mode."""
    return JsonApiClient(api_key_create(business=other_business, name="other", mode=Mode.LIVE)[1])


@pytest.fixture
def test_mode_api(business):
    """The same business in test mode."""
    return JsonApiClient(api_key_create(business=business, name="sandbox", mode=Mode.TEST)[1])


@pytest.fixture
def test_tenant(business):
    return Tenant(business=business, mode=Mode.TEST)


@pytest.fixture
def create_card(api):
    """POST /api/gift_cards; returns the resource object of the created card."""

    def create(**attributes):
        relationships = attributes.pop("relationships", None)
        attributes.setdefault("balance_cents", 5_000)
        response = api.post("/api/gift_cards", resource("gift_cards", attributes, relationships))
        assert response.status_code == 201, response.doc
        return response.doc["data"]

    return create
