"""Whichever entry point changes a card (the plain API, the JSON:API, the staff admin, a
management command), the same event reaches a real receiver on 127.0.0.1, signed: both
signatures are checked here from the raw body received, by hand and by the Standard Webhooks
library."""

from __future__ import annotations

import base64
import hashlib
import hmac
import importlib
import io
import json

import pytest
import standardwebhooks
from django.apps import apps
from django.contrib.admin.utils import quote
from django.contrib.auth.models import Group
from django.core.management import call_command
from django.test import Client as HttpClient
from django.urls import reverse

from clients.models import Business, User
from clients.services import business_create, client_create
from clients.tenancy import Mode, Tenant
from giftcards.events import webhooks, work
from giftcards.management.commands.load_demo import DEMO_BUSINESS
from tests.giftcards.jsonapi.conftest import JsonApiClient, resource
from tests.giftcards.plain_api.helpers import api_client, card_body

roles_migration = importlib.import_module("clients.migrations.0003_staff_roles")


def verified(call, secret: str) -> dict:
    """The payload of a call whose both signatures are right, from its raw body."""
    expected = hmac.new(secret.encode(), call.body, hashlib.sha256).digest()
    assert call.headers["X-CommerceLayer-Signature"] == base64.b64encode(expected).decode()
    # Standard Webhooks, by hand: HMAC of "<id>.<timestamp>.<body>" with the decoded secret.
    key = base64.b64decode(secret.removeprefix("whsec_"))
    signed = f"{call.headers['webhook-id']}.{call.headers['webhook-timestamp']}.".encode()
    mac = hmac.new(key, signed + call.body, hashlib.sha256).digest()
    assert call.headers["webhook-signature"] == "v1," + base64.b64encode(mac).decode()
    # And by an implementation other than ours, which also checks the timestamp's age.
    return standardwebhooks.Webhook(secret).verify(call.body, call.headers)


@pytest.fixture
def listening(tenant, actor, receiver, loopback_http):
    """A balance_change webhook of the test tenant; returns its secret."""
    hook = webhooks.webhook_create(
        tenant=tenant, actor=actor, topic="gift_cards.balance_change", callback_url=receiver.url
    )
    return hook.shared_secret


def last_change(receiver, secret) -> dict:
    work.drain()
    payload = verified(receiver.received[-1], secret)
    assert payload["meta"]["event"]["name"] == "gift_cards.balance_change"
    return payload


def test_a_payment_through_the_plain_api(listening, receiver, tenant, actor, api_key):
    plain = api_client(api_key[1])
    customer = client_create(tenant=tenant, actor=actor, first_name="Ann")
    card = plain.post("/giftcards", card_body(customer), format="json").json()
    paid = plain.post(
        "/payments", {"giftCardUUId": card["giftCardUUId"], "amount": "7.5"}, format="json"
    )
    assert paid.status_code == 201, paid.content
    payload = last_change(receiver, listening)
    assert payload["data"]["id"] == card["giftCardUUId"]
    assert payload["meta"]["event"]["data"]["ledger_entry"]["amount_cents"] == -750
    assert payload["data"]["attributes"]["balance_cents"] == 1_750


def test_a_debit_through_the_jsonapi(listening, receiver, make_card, api_key):
    api = JsonApiClient(api_key[1])
    card = make_card(balance_cents=3_000)
    body = resource(
        "gift_cards", {"_balance_change_cents": -1_000, "_order_reference": "W-1"}, id_=card.pk
    )
    assert api.patch(f"/api/gift_cards/{card.pk}", body).status_code == 200
    payload = last_change(receiver, listening)
    entry = payload["meta"]["event"]["data"]["ledger_entry"]
    assert (entry["kind"], entry["amount_cents"], entry["order_reference"]) == (
        "debit",
        -1_000,
        "W-1",
    )


def test_a_redemption_at_the_till_through_the_admin(listening, receiver, make_card, business):
    roles_migration.create_roles(apps)
    cashier = User.objects.create_user(username="till-1", is_staff=True, business=business)
    cashier.groups.add(Group.objects.get(name="cashier"))
    admin = HttpClient()
    admin.force_login(cashier)
    card = make_card(balance_cents=2_000)
    url = reverse("admin:giftcards_giftcard_act", args=[quote(card.pk), "debit"])
    response = admin.post(url, {"amount": "4.00", "note": "coffee"})
    assert response.status_code == 302, response.content
    payload = last_change(receiver, listening)
    assert payload["data"]["id"] == card.pk
    entry = payload["meta"]["event"]["data"]["ledger_entry"]
    assert (entry["kind"], entry["amount_cents"]) == ("debit", -400)


def test_cards_issued_by_a_command(receiver, actor, loopback_http, db):
    """`load_demo` issues and uses the demo business's cards through the services."""
    business = business_create(name=DEMO_BUSINESS, currency_code="USD")
    hook = webhooks.webhook_create(
        tenant=Tenant(business=business, mode=Mode.LIVE),
        actor=actor,
        topic="gift_cards.balance_change",
        callback_url=receiver.url,
    )
    roles_migration.create_roles(apps)
    call_command("load_demo", "--force", stdout=io.StringIO())
    assert Business.objects.filter(name=DEMO_BUSINESS).count() == 1
    work.drain()
    payloads = [verified(call, hook.shared_secret) for call in receiver.received]
    kinds = [p["meta"]["event"]["data"]["ledger_entry"]["kind"] for p in payloads]
    assert sorted(set(kinds)) == [
        "debit",
        "issue",
        "recharge",
        "refund",
        "transfer_in",
        "transfer_out",
    ]
    assert len({p["meta"]["event"]["id"] for p in payloads}) == len(payloads)
    assert all(json.loads(call.body)["data"]["type"] == "gift_cards" for call in receiver.received)
