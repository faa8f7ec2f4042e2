"""A card's history page speaks money and names: amounts in the card's currency, moments
with their time zone, the staff user, API key or command behind each change, and the reason
the ledger recorded with it."""

from __future__ import annotations

import html
import re

import pytest
from django.contrib.admin.utils import quote
from django.urls import reverse
from django.utils.html import strip_tags

from clients.services import api_key_create, business_create
from clients.tenancy import Actor, Mode, Tenant
from giftcards import services
from giftcards.models import GiftCard, Status


def history_url(card):
    return reverse("admin:giftcards_giftcard_history", args=[quote(card.pk)])


def act_url(card, action):
    return reverse("admin:giftcards_giftcard_act", args=[quote(card.pk), action])


def rows_of(response) -> list[str]:
    """Each history row as read, newest first."""
    rows = re.findall(r"<tr>(.*?)</tr>", response.content.decode(), flags=re.S)[1:]
    return [" ".join(html.unescape(strip_tags(row)).split()) for row in rows]


@pytest.fixture
def manager(make_staff):
    user = make_staff("manager")
    user.first_name, user.last_name = "Maria", "Lopez"
    user.save()
    return user


def test_amounts_are_money_in_the_cards_currency_with_the_reason(manager, login, make_card):
    card = make_card(balance_cents=4_000)
    client = login(manager)
    asked = client.post(act_url(card, "adjust"), {"new_balance": "35", "reason": "Till miscount"})
    client.post(
        act_url(card, "adjust"),
        {**dict(asked.context["hidden"]), "seen": asked.context["seen"], "confirm": "yes"},
    )

    newest = rows_of(client.get(history_url(card)))[0]

    assert "Balance: $40.00 → $35.00" in newest
    assert "Adjustment -$5.00: Till miscount" in newest
    assert "Maria Lopez (manager-" in newest
    assert "4000" not in newest and "3500" not in newest
    assert "None" not in newest


def test_a_euro_card_reads_in_euros(make_staff, login, other_business):
    card = services.card_issue(
        tenant=Tenant(business=other_business, mode=Mode.LIVE),
        actor=Actor.system("import-script"),
        balance_cents=15_000,
        currency_code="EUR",
        status=Status.ACTIVE,
    )
    services.card_debit(card=card, amount_cents=2_550, actor=Actor.system("import-script"))

    rows = rows_of(login(make_staff("manager", business=other_business)).get(history_url(card)))

    assert "Balance: 150,00 € → 124,50 €" in rows[0] or "Balance: €150,00 → €124,50" in rows[0]
    assert "import-script" in rows[0]


def test_a_change_through_an_api_key_names_the_key(manager, login, make_card, business):
    card = make_card(balance_cents=4_000)
    key, _secret = api_key_create(business=business, name="till-7", mode=Mode.LIVE)
    services.card_debit(
        card=card, amount_cents=500, actor=Actor.for_api_key(key), order_reference="POS-12"
    )

    newest = rows_of(login(manager).get(history_url(card)))[0]

    assert "API key “till-7”" in newest
    assert "Debit -$5.00, order POS-12" in newest
    assert "Balance: $40.00 → $35.00" in newest
    assert "None" not in newest


def test_a_status_change_reads_as_labels_and_names_the_user(manager, login, make_card):
    card = make_card()
    client = login(manager)
    asked = client.post(act_url(card, "deactivate"))
    client.post(
        act_url(card, "deactivate"),
        {**dict(asked.context["hidden"]), "seen": asked.context["seen"], "confirm": "yes"},
    )

    newest = rows_of(client.get(history_url(card)))[0]

    assert "Status: Active → Inactive" in newest
    assert "Maria Lopez" in newest
    assert "Updated at" not in newest and "Modified by" not in newest


def test_history_times_name_the_business_zone(make_staff, login):
    berlin = business_create(name="Berliner Buch", currency_code="EUR", timezone="Europe/Berlin")
    card = services.card_issue(
        tenant=Tenant(business=berlin, mode=Mode.LIVE),
        actor=Actor.system("tester"),
        balance_cents=1_000,
        status=Status.ACTIVE,
    )
    services.card_soft_delete(card=card, actor=Actor.system("tester"))
    client = login(make_staff("manager", business=berlin, username="berlin-manager"))

    rows = rows_of(client.get(history_url(card)))

    for row in rows:
        assert re.search(r"\d{4}-\d\d-\d\d \d\d:\d\d CES?T", row), row
    assert re.search(r"Deleted at: — → \d{4}-\d\d-\d\d \d\d:\d\d CES?T", rows[0]), rows[0]


@pytest.mark.parametrize("card_id", ["PlainIdWithoutEscapes0", "Under_5Fscore_3Aid_2F0"])
def test_one_versions_page_opens_from_the_history_and_names_the_zone(
    card_id, manager, login, make_card, monkeypatch
):
    # Public ids may hold "_", which the admin's URLs escape ("_5F").
    monkeypatch.setattr(GiftCard._meta.get_field("id"), "_get_default", lambda: card_id)
    card = make_card()
    version = card.versions.get()
    client = login(manager)
    link = reverse("admin:giftcards_giftcard_simple_history", args=[quote(card.pk), version.pk])

    listed = client.get(history_url(card))
    response = client.get(link)

    assert f'href="{link}"' in listed.content.decode()
    assert response.status_code == 200
    page = " ".join(html.unescape(strip_tags(response.content.decode())).split())
    assert re.search(r"Created: \d{4}-\d\d-\d\d \d\d:\d\d UTC", page), page
