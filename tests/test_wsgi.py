"""Requests through a strict WSGI server contract (PEP 3333, as `runserver` and wsgiref
enforce it): header names and values must be plain `str`, or the server answers 500 after
the view has already committed its writes."""

from __future__ import annotations

import io
import json
from wsgiref.util import setup_testing_defaults
from wsgiref.validate import validator

import pytest
from django.core.handlers.wsgi import WSGIHandler
from django.core.signals import request_finished, request_started
from django.db import close_old_connections

from clients.services import client_create

JSONAPI = "application/vnd.api+json"


def call(method: str, path: str, secret: str, body: dict, content_type: str):
    payload = json.dumps(body).encode()
    environ = {
        "REQUEST_METHOD": method,
        "SCRIPT_NAME": "",
        "PATH_INFO": path,
        "QUERY_STRING": "",
        "CONTENT_TYPE": content_type,
        "CONTENT_LENGTH": str(len(payload)),
        "HTTP_AUTHORIZATION": f"Bearer {secret}",
        "HTTP_ACCEPT": content_type,
        "wsgi.input": io.BytesIO(payload),
    }
    setup_testing_defaults(environ)
    started = {}

    def start_response(status, headers, exc_info=None):
        started.update(status=status, headers=headers)
        return lambda data: None

    app = validator(WSGIHandler())  # asserts on any header that is not exactly a str
    result = app(environ, start_response)
    content = b"".join(result)
    result.close()
    return int(started["status"].split()[0]), dict(started["headers"]), content


@pytest.fixture(autouse=True)
def _keep_the_test_connection():
    """As Django's test client does: the handler would close the test's open transaction."""
    for signal in (request_started, request_finished):
        signal.disconnect(close_old_connections)
    yield
    for signal in (request_started, request_finished):
        signal.connect(close_old_connections)


def jsonapi(type_: str, attributes: dict) -> dict:
    return {"data": {"type": type_, "attributes": attributes}}


@pytest.mark.parametrize(
    ("path", "document"),
    [
        ("/api/gift_cards", jsonapi("gift_cards", {"balance_cents": 500})),
        ("/api/markets", jsonapi("markets", {"name": "Online", "currency_code": "USD"})),
        ("/api/tags", jsonapi("tags", {"name": "vip"})),
        ("/api/gift_card_recipients", jsonapi("gift_card_recipients", {"email": "a@b.example"})),
    ],
)
def test_jsonapi_creates_pass_a_strict_wsgi_server(api_key, path, document):
    status, headers, content = call("POST", path, api_key[1], document, JSONAPI)

    assert status == 201, content
    assert headers["Location"] == json.loads(content)["data"]["links"]["self"]


def test_plain_api_writes_pass_a_strict_wsgi_server(api_key, tenant, actor):
    customer = client_create(tenant=tenant, actor=actor, first_name="Ada", last_name="L")
    card = {
        "active": True,
        "amount": 25,
        "balanceAmount": 25,
        "businessId": tenant.business.pk,
        "clientId": customer.pk,
        "purchaseDate": 1681963200000,
        "status": "Active",
    }

    status, _, content = call("POST", "/giftcards", api_key[1], card, "application/json")
    assert status == 201, content
    payment = {"giftCardUUId": json.loads(content)["giftCardUUId"], "amount": 5}
    status, _, content = call("POST", "/payments", api_key[1], payment, "application/json")
    assert status == 201, content
