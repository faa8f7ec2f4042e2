"""The permission matrix: each role against each admin page and action, allowed or 403.

"Allowed" means the request got past the permission check (200, or a redirect back to the
card); the tests in test_card_actions.py check what the allowed ones write.
"""

from __future__ import annotations

import importlib

import pytest
from django.apps import apps
from django.contrib.admin.utils import quote
from django.contrib.messages import get_messages
from django.urls import reverse

from giftcards.models import BalanceLog, Status

events_roles_migration = importlib.import_module(
    "clients.migrations.0006_manager_event_permissions"
)

ALLOWED, DENIED = "allowed", 403
NOBODY = {"none": DENIED, "viewer": DENIED, "cashier": DENIED, "manager": DENIED}
EVERYONE = {"none": DENIED, "viewer": ALLOWED, "cashier": ALLOWED, "manager": ALLOWED}
SELLERS = {"none": DENIED, "viewer": DENIED, "cashier": ALLOWED, "manager": ALLOWED}
MANAGERS = {"none": DENIED, "viewer": DENIED, "cashier": DENIED, "manager": ALLOWED}


def card_url(name, card, *args):
    return reverse(f"admin:giftcards_giftcard_{name}", args=[quote(card.pk), *args])


def act(name):
    return lambda card, entry: card_url("act", card, name)


# (case id, method, url(card, ledger entry), POST data, expected per role)
MATRIX = [
    (
        "card list",
        "get",
        lambda c, e: reverse("admin:giftcards_giftcard_changelist"),
        None,
        EVERYONE,
    ),
    ("card page", "get", lambda c, e: card_url("change", c), None, EVERYONE),
    ("card history", "get", lambda c, e: card_url("history", c), None, EVERYONE),
    ("dashboard", "get", lambda c, e: reverse("staff-dashboard"), None, EVERYONE),
    ("sell page", "get", lambda c, e: reverse("admin:giftcards_giftcard_add"), None, SELLERS),
    (
        "sell",
        "post",
        lambda c, e: reverse("admin:giftcards_giftcard_add"),
        {"amount": "25", "status": "active", "mode": "live", "rechargeable": "on"},
        SELLERS,
    ),
    (
        "find by code",
        "post",
        lambda c, e: reverse("admin:giftcards_giftcard_find"),
        {"q": "abcd efgh jklm 0042"},
        EVERYONE,
    ),
    ("redeem", "post", act("debit"), {"amount": "1.00"}, SELLERS),
    ("recharge", "post", act("recharge"), {"amount": "1.00"}, SELLERS),
    ("adjust", "post", act("adjust"), {"new_balance": "99", "reason": "count"}, MANAGERS),
    (
        "move balance",
        "post",
        act("transfer"),
        {"target_code": "WXYZ-WXYZ-WXYZ-0001", "amount": "1.00"},
        MANAGERS,
    ),
    ("deactivate", "post", act("deactivate"), {}, MANAGERS),
    ("activate", "post", act("activate"), {}, MANAGERS),
    ("purchase", "post", act("purchase"), {}, MANAGERS),
    ("soft delete", "post", act("delete"), {}, MANAGERS),
    ("restore", "post", act("restore"), {}, MANAGERS),
    ("reveal code", "post", lambda c, e: card_url("reveal", c), {}, MANAGERS),
    ("export csv", "get", lambda c, e: reverse("admin:giftcards_giftcard_export"), None, MANAGERS),
    (
        "edit attributes",
        "post",
        lambda c, e: card_url("change", c),
        {
            "reference": "new-ref",
            "metadata": "{}",
            "rechargeable": "on",
            "distribute_discount": "on",
            "ledger-TOTAL_FORMS": "0",
            "ledger-INITIAL_FORMS": "0",
        },
        MANAGERS,
    ),
    ("hard delete", "get", lambda c, e: card_url("delete", c), None, NOBODY),
    (
        "revert from history",
        "post",
        lambda c, e: reverse(
            "admin:giftcards_giftcard_simple_history",
            args=[quote(c.pk), c.versions.first().history_id],
        ),
        {},
        NOBODY,
    ),
    (
        "ledger list",
        "get",
        lambda c, e: reverse("admin:giftcards_balancelog_changelist"),
        None,
        EVERYONE,
    ),
    (
        "ledger row",
        "get",
        lambda c, e: reverse("admin:giftcards_balancelog_change", args=[e.pk]),
        None,
        EVERYONE,
    ),
    (
        "ledger row edit",
        "post",
        lambda c, e: reverse("admin:giftcards_balancelog_change", args=[e.pk]),
        {"note": "x"},
        NOBODY,
    ),
    ("ledger add", "get", lambda c, e: reverse("admin:giftcards_balancelog_add"), None, NOBODY),
    (
        "ledger delete",
        "get",
        lambda c, e: reverse("admin:giftcards_balancelog_delete", args=[e.pk]),
        None,
        NOBODY,
    ),
    ("client list", "get", lambda c, e: reverse("admin:clients_client_changelist"), None, EVERYONE),
    ("client add", "get", lambda c, e: reverse("admin:clients_client_add"), None, SELLERS),
    (
        "recipient add",
        "get",
        lambda c, e: reverse("admin:giftcards_giftcardrecipient_add"),
        None,
        SELLERS,
    ),
    ("market add", "get", lambda c, e: reverse("admin:giftcards_market_add"), None, MANAGERS),
    ("api keys", "get", lambda c, e: reverse("admin:clients_apikey_changelist"), None, MANAGERS),
    ("api key add", "get", lambda c, e: reverse("admin:clients_apikey_add"), None, MANAGERS),
    ("business", "get", lambda c, e: reverse("admin:clients_business_changelist"), None, EVERYONE),
    ("business add", "get", lambda c, e: reverse("admin:clients_business_add"), None, NOBODY),
    ("staff users", "get", lambda c, e: reverse("admin:clients_user_changelist"), None, NOBODY),
]


def _status_for(case: str) -> str:
    # A card in a status where the trigger applies, so "allowed" really runs the service.
    return {"activate": Status.INACTIVE, "purchase": Status.DRAFT}.get(case, Status.ACTIVE)


@pytest.mark.parametrize("role", ["none", "viewer", "cashier", "manager"])
@pytest.mark.parametrize(
    ("case", "method", "url", "data", "expected"), MATRIX, ids=[row[0] for row in MATRIX]
)
def test_role_matrix(role, case, method, url, data, expected, make_staff, login, make_card):
    card = make_card(status=_status_for(case), code="ABCD-EFGH-JKLM-0042")
    if case == "restore":
        from clients.tenancy import Actor
        from giftcards import services

        services.card_soft_delete(card=card, actor=Actor.system())
    entry = BalanceLog.objects.get(card=card)
    client = login(make_staff(None if role == "none" else role))
    ledger_before = BalanceLog.objects.count()

    target = url(card, entry)
    response = client.get(target) if method == "get" else client.post(target, data or {})

    if expected[role] == DENIED:
        assert response.status_code == 403, (case, role, response.status_code)
        assert BalanceLog.objects.count() == ledger_before
    elif case == "sell":
        # Post/redirect/get: the sale redirects to the page that shows its code once.
        assert response.status_code == 302, (case, role, response.status_code)
        sold = reverse("admin:giftcards_giftcard_sold", args=["token"]).removesuffix("token/")
        assert response["Location"].startswith(sold)
    elif case in ("adjust", "deactivate", "soft delete"):
        # These ask first: the POST shows a confirmation, and only its confirmed POST runs.
        assert response.status_code == 200, (case, role, response.status_code)
        assert BalanceLog.objects.count() == ledger_before
        confirmed = {**dict(response.context["hidden"]), "seen": response.context["seen"]}
        response = client.post(target, {**confirmed, "confirm": "yes"})
        assert response.status_code == 302, (case, role, response.status_code)
        assert response["Location"] == card_url("change", card)
        assert any(m.level_tag == "success" for m in get_messages(response.wsgi_request))
    elif method == "post" and case != "reveal code":
        # Actions and the attribute form redirect back to the card, whatever the outcome.
        assert response.status_code == 302, (case, role, response.status_code)
        back = "changelist" if case == "edit attributes" else "change"
        assert response["Location"].startswith(
            reverse(
                f"admin:giftcards_giftcard_{back}",
                args=[] if back == "changelist" else [quote(card.pk)],
            )
        )
    else:
        assert response.status_code == 200, (case, role, response.status_code)


def test_cashier_posting_the_adjust_form_gets_403_and_nothing_moves(make_staff, login, make_card):
    card = make_card()
    client = login(make_staff("cashier"))

    response = client.post(card_url("act", card, "adjust"), {"new_balance": "0", "reason": "theft"})

    assert response.status_code == 403
    card.refresh_from_db()
    assert card.balance_cents == 10_000
    assert list(card.ledger.values_list("kind", flat=True)) == ["issue"]


def test_card_page_offers_only_the_actions_of_the_role(make_staff, login, make_card):
    card = make_card()
    pages = {
        role: login(make_staff(role)).get(card_url("change", card)).content.decode()
        for role in ("viewer", "cashier", "manager")
    }

    assert 'data-action="debit"' not in pages["viewer"]
    assert 'data-action="debit"' in pages["cashier"]
    assert 'data-action="recharge"' in pages["cashier"]
    assert 'data-action="adjust"' not in pages["cashier"]
    assert "Reveal full code" not in pages["cashier"]
    for action in ("debit", "recharge", "adjust", "deactivate", "delete"):
        assert f'data-action="{action}"' in pages["manager"]
    assert "Reveal full code" in pages["manager"]


def test_roles_hold_the_documented_permissions(roles):
    def perms(role):
        return {
            f"{p.content_type.app_label}.{p.codename}"
            for p in roles[role].permissions.select_related("content_type")
        }

    viewer, cashier, manager = perms("viewer"), perms("cashier"), perms("manager")
    assert viewer < cashier < manager
    assert all(name.split(".")[1].startswith("view_") for name in viewer)
    assert "clients.view_apikey" not in cashier
    assert {
        "giftcards.redeem_giftcard",
        "giftcards.recharge_giftcard",
        "giftcards.add_giftcard",
    } <= cashier
    assert "giftcards.adjust_giftcard" not in cashier
    assert {
        "giftcards.adjust_giftcard",
        "giftcards.transition_giftcard",
        "giftcards.delete_giftcard",
        "giftcards.export_giftcard",
        "giftcards.reveal_code_giftcard",
        "clients.add_apikey",
    } <= manager
    assert not any(name.startswith("auth.") or "_user" in name for name in manager)


EVENT_PERMISSIONS = {
    "giftcards.view_webhook",
    "giftcards.add_webhook",
    "giftcards.change_webhook",
    "giftcards.delete_webhook",
    "giftcards.view_eventcallback",
    "giftcards.view_delivery",
    "giftcards.redeliver_delivery",
    "giftcards.view_cardemail",
    "giftcards.resend_email_giftcard",
}


def test_only_managers_hold_the_webhook_and_card_email_permissions(roles):
    events_roles_migration.grant_manager_events(apps)  # again: nothing changes

    def perms(role):
        return {
            f"{p.content_type.app_label}.{p.codename}"
            for p in roles[role].permissions.select_related("content_type")
        }

    assert perms("manager") >= EVENT_PERMISSIONS
    assert not perms("viewer") & EVENT_PERMISSIONS
    assert not perms("cashier") & EVENT_PERMISSIONS
    assert "giftcards.change_delivery" not in perms("manager")  # deliveries are read-only
