"""No issued code can be read from the database at rest: cards are issued and used through
both APIs (with and without Idempotency-Key), the admin and the balance page, their events
delivered to webhooks (whose receiver quotes each payload back) and a card e-mailed to its
recipient, then the whole database is dumped (pg_dump on PostgreSQL, iterdump on SQLite) and
searched for every code, as issued and normalised."""

from __future__ import annotations

import importlib
import os
import shutil
import subprocess

import pytest
from django.apps import apps
from django.contrib.admin.utils import quote
from django.contrib.auth.models import Group
from django.core import mail
from django.core.cache import cache
from django.db import connection
from django.test import Client as HttpClient
from django.urls import reverse

from clients.models import Client, IdempotencyRecord, User
from clients.services import api_key_create, business_create
from clients.tenancy import Actor, Mode, Tenant
from giftcards import codes
from giftcards.events import topics, webhooks, work
from giftcards.imports import jobs as import_jobs
from giftcards.models import BalanceLog, CardEmail, EventCallback, GiftCard
from tests.giftcards.jsonapi.conftest import JsonApiClient, resource
from tests.giftcards.plain_api.helpers import api_client

roles_migration = importlib.import_module("clients.migrations.0003_staff_roles")
KEY = "Idempotency-Key"


def dump_database() -> str:
    """The whole test database as SQL text."""
    if connection.vendor == "sqlite":
        return "\n".join(connection.connection.iterdump())
    if shutil.which("pg_dump") is None:
        if os.environ.get("CI"):
            pytest.fail("pg_dump is missing (postgresql-client)")
        pytest.skip("pg_dump is missing (postgresql-client)")
    db = connection.settings_dict
    command = ["pg_dump", "--no-owner", "--dbname", db["NAME"]]
    for flag, value in (("--host", db["HOST"]), ("--port", db["PORT"]), ("--username", db["USER"])):
        if value:
            command += [flag, str(value)]
    env = {**os.environ, "PGPASSWORD": db.get("PASSWORD") or ""}
    return subprocess.run(
        command, capture_output=True, text=True, check=True, env=env, timeout=120
    ).stdout


@pytest.fixture
def staff(db):
    roles_migration.create_roles(apps)
    business = business_create(name="Dump Books", currency_code="USD")
    user = User.objects.create_user(username="dump-manager", is_staff=True, business=business)
    user.groups.add(Group.objects.get(name="manager"))
    client = HttpClient()
    client.force_login(user)
    return business, client


def echo(handler):
    """A receiver that answers with what it got (a debugging endpoint, an error page quoting
    the payload): the answer's start is kept as the callback's response_message."""
    handler.send_response(200)
    handler.send_header("Content-Length", str(len(handler.request_body)))
    handler.end_headers()
    handler.wfile.write(handler.request_body)


@pytest.mark.django_db(transaction=True)
def test_a_database_dump_holds_no_issued_code(staff, settings, receiver):
    business, admin = staff
    settings.WEBHOOK_ALLOW_LOOPBACK_HTTP = True
    receiver.plan.respond = echo
    # Every card event is delivered (its payload holds the code) and recorded as a callback.
    for topic in topics.of_resource("gift_cards"):
        webhooks.webhook_create(
            tenant=Tenant(business=business, mode=Mode.LIVE),
            actor=Actor.system("dump"),
            topic=topic,
            callback_url=receiver.url,
            include_resources=["gift_card_recipient"],
        )
    secret = api_key_create(business=business, name="pos-dump", mode=Mode.LIVE)[1]
    jsonapi, plain = JsonApiClient(secret), api_client(secret)
    customer = Client.objects.create(business=business, mode=Mode.LIVE, first_name="Ada")
    cache.clear()
    issued: list[str] = []

    # JSON:API: creates with and without a key, chosen and generated codes.
    def create(attributes, **headers):
        response = jsonapi.post("/api/gift_cards", resource("gift_cards", attributes), **headers)
        assert response.status_code == 201, response.doc
        issued.append(response.doc["data"]["attributes"]["code"])
        return response.doc["data"]["id"]

    plain_create = create(
        {
            "balance_cents": 5_000,
            "status": "active",
            "code": "JSON-PLAIN-7QXW",
            "recipient_email": "dump@example.com",  # e-mailed its card on activation
        }
    )
    keyed = create(
        {"balance_cents": 5_000, "status": "active", "code": "JSON-KEYED-4MZP"}, **{KEY: "create-1"}
    )
    generated = create({"balance_cents": 5_000, "status": "draft"}, **{KEY: "create-2"})
    again = jsonapi.post(
        "/api/gift_cards",
        resource(
            "gift_cards", {"balance_cents": 5_000, "status": "active", "code": "JSON-KEYED-4MZP"}
        ),
        **{KEY: "create-1"},
    )
    assert again["Idempotent-Replayed"] == "true"

    # JSON:API updates, with and without a key, one echoing the code.
    def update(card_id, attributes, **headers):
        body = resource("gift_cards", attributes, id_=card_id)
        response = jsonapi.patch(f"/api/gift_cards/{card_id}", body, **headers)
        assert response.status_code == 200, response.doc
        assert response.doc["data"]["attributes"]["code"] in issued

    update(plain_create, {"_balance_change_cents": -100})
    update(keyed, {"_balance_change_cents": -100, "_order_reference": "ORD-1"}, **{KEY: "pay-1"})
    update(keyed, {"code": "json keyed 4mzp", "reference": "echo"}, **{KEY: "echo-1"})
    update(generated, {"balance_cents": 4_000}, **{KEY: "adjust-1"})
    update(generated, {"_purchase": True}, **{KEY: "purchase-1"})
    update(generated, {"_activate": True})
    listed = jsonapi.get("/api/gift_cards", {"sort": "code", "filter[code]": issued[0]})
    assert listed.status_code == 200

    # Plain API: creates, updates, payments and refunds, with and without a key.
    def plain_post(path, body, key=None):
        headers = {"HTTP_IDEMPOTENCY_KEY": key} if key else {}
        response = plain.post(path, body, format="json", **headers)
        assert response.status_code in (200, 201), response.content
        return response.json()

    card_body = {
        "active": True,
        "amount": "25",
        "balanceAmount": "25",
        "businessId": business.pk,
        "clientId": customer.pk,
        "purchaseDate": 1681963200000,
        "status": "Active",
    }
    plain_cards = [
        plain_post("/giftcards", card_body)["giftCardUUId"],
        plain_post("/giftcards", card_body, key="plain-create")["giftCardUUId"],
    ]
    for card_id in plain_cards:
        plain_post("/giftcards", {**card_body, "giftCardUUId": card_id, "balanceAmount": "20"})
        plain_post(
            "/giftcards",
            {**card_body, "giftCardUUId": card_id, "balanceAmount": "15"},
            key=f"plain-update-{card_id}",
        )
        payment = plain_post(
            "/payments", {"giftCardUUId": card_id, "amount": "5"}, key="p-1" + card_id
        )
        plain_post("/payments", {"giftCardUUId": card_id, "amount": "1"})
        refund = plain.delete(
            f"/payments/{payment['paymentId']}", HTTP_IDEMPOTENCY_KEY="r-" + card_id
        )
        assert refund.status_code == 200, refund.content
    issued += [GiftCard.objects.get(pk=card_id).code for card_id in plain_cards]

    # Admin: a sale with a chosen code, one with a generated code (shown once), a reveal, an
    # action, and a search by code; the public balance page.
    sale = {"amount": "10", "status": "active", "mode": "live", "rechargeable": "on"}
    add_url = reverse("admin:giftcards_giftcard_add")
    assert admin.post(add_url, {**sale, "code": "ADMIN-SOLD-8KRT"}).status_code == 302
    issued.append("ADMIN-SOLD-8KRT")
    shown = admin.post(add_url, sale, follow=True)
    generated_in_admin = GiftCard.objects.get(code_last4=shown.context["card"].code_last4)
    assert generated_in_admin.code in shown.content.decode()
    issued.append(generated_in_admin.code)
    for card in GiftCard.objects.filter(business=business):
        reveal = reverse("admin:giftcards_giftcard_reveal", args=[quote(card.pk)])
        assert card.code in admin.post(reveal).content.decode()
        act = reverse("admin:giftcards_giftcard_act", args=[quote(card.pk), "debit"])
        admin.post(act, {"amount": "0.01", "note": "dump test"})
        cache.clear()
        admin.post(reverse("admin:giftcards_giftcard_find"), {"q": card.code})
        HttpClient().post(reverse("balance-check"), {"code": card.code})

    assert len(issued) == len(set(issued)) == GiftCard.objects.count() == 7
    assert IdempotencyRecord.objects.filter(status_code__gt=0).count() >= 10
    assert BalanceLog.objects.filter(note="dump test").count() == 7

    # Cards brought in by imports, a real one and a dry run whose rows stay with it.
    imported = ["IMPORT-ED01-K7QM", "IMPORT-ED02-X2PD"]
    for dry_run in (False, True):
        job = jsonapi.post(
            "/api/imports",
            resource(
                "imports",
                {
                    "resource_type": "gift_cards",
                    "dry_run": dry_run,
                    "inputs": [{"code": code, "balance_cents": 500} for code in imported],
                },
            ),
        )
        assert job.status_code == 201, job.doc
    import_jobs.drain()
    assert GiftCard.objects.filter(code_last4__in=["K7QM", "X2PD"]).count() == 2
    issued += imported

    work.drain()
    sent = b"".join(call.body for call in receiver.received).upper()
    # The payloads held them (an import's create event does not carry the code).
    assert all(code.upper().encode() in sent for code in issued if code not in imported)
    assert EventCallback.objects.count() == len(receiver.received) > 7 * 3
    assert "JSON-PLAIN-7QXW" in mail.outbox[0].body
    assert CardEmail.objects.filter(state="sent").count() == 1

    dump = dump_database().upper()

    for card in GiftCard.objects.all():  # the dump is the real thing: ids and last 4 are in it
        assert card.pk.upper() in dump and card.code_last4 in dump
    for code in issued:
        for form in {code.upper(), codes.normalise(code)}:
            assert form not in dump, f"the code {codes.mask(codes.last4(code))} is in the dump"
