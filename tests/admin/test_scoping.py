"""Tenancy in the admin: a staff user of business B cannot open, list, search or act on
business A's rows; another business's row answers 404 like a missing one. Superusers see all."""

from __future__ import annotations

import json

import pytest
from django.contrib.admin.utils import quote
from django.urls import reverse

from clients.models import ApiKey, Client
from clients.services import api_key_create, client_create
from giftcards import services
from giftcards.models import BalanceLog, GiftCard, Market


@pytest.fixture
def b_manager(make_staff, other_business):
    """A manager of business B (other_business): every permission there is."""
    return make_staff("manager", business=other_business, username="b-manager")


@pytest.fixture
def a_rows(tenant, actor, business, make_card):
    """Rows of business A that B must never reach."""
    ada = client_create(tenant=tenant, actor=actor, first_name="Ada", last_name="Aonly")
    recipient = services.recipient_find_or_create(tenant=tenant, email="a-only@example.com")
    market = Market.objects.create(
        business=business, mode="live", name="A market", currency_code="USD"
    )
    card = make_card(
        code="AQ7B-BX3C-CK9W-DDDD",
        client=ada,
        recipient=recipient,
        reference="a-ref",
        market=market,
    )
    key, _ = api_key_create(business=business, name="a-key")
    return {
        "card": card,
        "entry": BalanceLog.objects.get(card=card),
        "client": ada,
        "recipient": recipient,
        "market": market,
        "key": key,
    }


def test_b_cannot_open_any_page_of_a_card(b_manager, login, a_rows):
    card, client = a_rows["card"], login(b_manager)
    history = card.versions.first().history_id
    urls = [
        reverse("admin:giftcards_giftcard_change", args=[quote(card.pk)]),
        reverse("admin:giftcards_giftcard_history", args=[quote(card.pk)]),
        reverse("admin:giftcards_giftcard_simple_history", args=[quote(card.pk), history]),
        reverse("admin:giftcards_balancelog_change", args=[a_rows["entry"].pk]),
        reverse("admin:clients_client_change", args=[a_rows["client"].pk]),
        reverse("admin:giftcards_giftcardrecipient_change", args=[a_rows["recipient"].pk]),
        reverse("admin:giftcards_market_change", args=[a_rows["market"].pk]),
        reverse("admin:clients_apikey_change", args=[a_rows["key"].pk]),
        reverse("admin:clients_business_change", args=[card.business_id]),
    ]

    for url in urls:
        assert client.get(url).status_code == 404, url


def test_b_gets_the_same_404_for_a_foreign_card_as_for_a_missing_one(b_manager, login, a_rows):
    client = login(b_manager)
    foreign = client.get(
        reverse("admin:giftcards_giftcard_change", args=[quote(a_rows["card"].pk)])
    )
    missing = client.get(reverse("admin:giftcards_giftcard_change", args=["x" * 22]))

    assert foreign.status_code == missing.status_code == 404


@pytest.mark.parametrize(
    ("action", "data"),
    [
        ("debit", {"amount": "1"}),
        ("recharge", {"amount": "1"}),
        ("adjust", {"new_balance": "0", "reason": "x"}),
        ("deactivate", {}),
        ("delete", {}),
    ],
)
def test_b_cannot_act_on_a_card(action, data, b_manager, login, a_rows):
    card = a_rows["card"]
    before = GiftCard.objects.filter(pk=card.pk).values().get()

    response = login(b_manager).post(
        reverse("admin:giftcards_giftcard_act", args=[quote(card.pk), action]), data
    )

    assert response.status_code == 404
    assert GiftCard.objects.filter(pk=card.pk).values().get() == before
    assert card.ledger.count() == 1


def test_b_cannot_reveal_or_edit_a_card(b_manager, login, a_rows):
    card, client = a_rows["card"], login(b_manager)

    reveal = client.post(reverse("admin:giftcards_giftcard_reveal", args=[quote(card.pk)]))
    edit = client.post(
        reverse("admin:giftcards_giftcard_change", args=[quote(card.pk)]),
        {"reference": "hijacked", "metadata": "{}"},
    )

    assert reveal.status_code == edit.status_code == 404
    card.refresh_from_db()
    assert card.reference == "a-ref"


def test_lists_show_only_the_users_business(b_manager, login, a_rows, other_card):
    client = login(b_manager)
    lists = {
        "admin:giftcards_giftcard_changelist": {other_card.pk},
        "admin:giftcards_balancelog_changelist": set(
            BalanceLog.objects.filter(card=other_card).values_list("pk", flat=True)
        ),
        "admin:clients_client_changelist": set(),
        "admin:giftcards_giftcardrecipient_changelist": set(),
        "admin:giftcards_market_changelist": set(),
        "admin:clients_apikey_changelist": set(),
        "admin:clients_business_changelist": {other_card.business_id},
    }

    for name, expected in lists.items():
        response = client.get(reverse(name))
        assert {obj.pk for obj in response.context["cl"].result_list} == expected, name


@pytest.mark.parametrize(
    "term", ["AQ7B-BX3C-CK9W-DDDD", "DDDD", "Aonly", "a-only@example.com", "a-ref"]
)
def test_b_finds_nothing_of_a_by_search(term, b_manager, login, a_rows, other_card):
    response = login(b_manager).get(reverse("admin:giftcards_giftcard_changelist"), {"q": term})

    assert response.status_code == 200
    assert list(response.context["cl"].result_list) == []


def test_ledger_search_by_code_stays_in_the_business(b_manager, login, a_rows):
    response = login(b_manager).get(
        reverse("admin:giftcards_balancelog_changelist"), {"q": "AQ7B-BX3C-CK9W-DDDD"}
    )

    assert list(response.context["cl"].result_list) == []


@pytest.mark.parametrize(
    ("model", "field", "term"),
    [("giftcard", "client", "Ada"), ("giftcard", "recipient", "a-only")],
)
def test_autocomplete_offers_only_the_users_business(
    model, field, term, b_manager, login, a_rows, other_tenant, actor
):
    b_rows = {
        "client": client_create(
            tenant=other_tenant, actor=actor, first_name="Ada", last_name="Bside"
        ),
        "recipient": services.recipient_find_or_create(
            tenant=other_tenant, email="a-only-b@example.com"
        ),
    }

    response = login(b_manager).get(
        reverse("admin:autocomplete"),
        {"app_label": "giftcards", "model_name": model, "field_name": field, "term": term},
    )

    # Ids of the field's own table: a client's id may equal a recipient's by chance.
    results = json.loads(response.content)["results"]
    assert [result["id"] for result in results] == [str(b_rows[field].pk)]
    assert results[0]["id"] != str(a_rows[field].pk)


def test_filters_do_not_leak_other_businesses_choices(b_manager, login, a_rows, other_card):
    html = login(b_manager).get(reverse("admin:giftcards_giftcard_changelist")).content.decode()

    assert "A market" not in html
    assert "?currency_code=USD" not in html  # A's currency; B's cards are EUR
    assert "?currency_code=EUR" in html


def test_the_export_holds_only_the_users_business(b_manager, login, a_rows, other_card):
    response = login(b_manager).get(reverse("admin:giftcards_giftcard_export"))

    lines = b"".join(response.streaming_content).decode().splitlines()
    assert len(lines) == 2
    assert other_card.pk in lines[1]


def test_b_cannot_create_rows_in_a(b_manager, login, business):
    client = login(b_manager)

    client.post(
        reverse("admin:clients_client_add"),
        {"business": business.pk, "mode": "live", "first_name": "Sneaky", "active": "on"},
    )
    client.post(
        reverse("admin:giftcards_giftcard_add"),
        {"business": business.pk, "amount": "10", "status": "active", "mode": "live"},
    )

    assert Client.objects.filter(business=business).count() == 0
    assert Client.objects.get(first_name="Sneaky").business == b_manager.business
    assert not GiftCard.objects.filter(business=business).exists()
    assert GiftCard.objects.get().business == b_manager.business


def test_b_cannot_point_its_card_at_as_client(b_manager, login, a_rows, other_card):
    response = login(b_manager).post(
        reverse("admin:giftcards_giftcard_change", args=[quote(other_card.pk)]),
        {
            "client": a_rows["client"].pk,
            "metadata": "{}",
            "ledger-TOTAL_FORMS": "0",
            "ledger-INITIAL_FORMS": "0",
        },
    )

    assert response.status_code == 200  # the form again, with an error
    assert "Select a valid choice" in response.content.decode()
    other_card.refresh_from_db()
    assert other_card.client_id is None


def test_staff_user_without_a_business_sees_nothing(make_staff, login, a_rows):
    user = make_staff("manager", username="homeless")
    user.business = None
    user.save()

    response = login(user).get(reverse("admin:giftcards_giftcard_changelist"))

    assert list(response.context["cl"].result_list) == []


def test_superuser_sees_and_acts_on_every_business(superuser, login, a_rows, other_card):
    client = login(superuser)

    listed = client.get(reverse("admin:giftcards_giftcard_changelist")).context["cl"].result_list
    response = client.post(
        reverse("admin:giftcards_giftcard_act", args=[quote(other_card.pk), "debit"]),
        {"amount": "1"},
    )

    assert {card.pk for card in listed} == {a_rows["card"].pk, other_card.pk}
    assert response.status_code == 302
    assert other_card.ledger.filter(kind="debit", user=superuser).count() == 1


def test_api_key_created_in_the_admin_belongs_to_the_managers_business(b_manager, login):
    response = login(b_manager).post(
        reverse("admin:clients_apikey_add"), {"name": "till-3", "mode": "live"}, follow=True
    )

    key = ApiKey.objects.get(name="till-3")
    assert key.business == b_manager.business
    assert response.status_code == 200
    assert "cannot be shown again" in response.content.decode()
    assert "no-store" in response["Cache-Control"]
    assert ApiKey.objects.get_from_key(response.context["secret"]).pk == key.pk
