"""Every moment an admin page shows names its time zone ("2031-01-31 23:59 JST"): the zone of
the staff user's business, UTC for a superuser without one."""

from __future__ import annotations

import html
import re
from datetime import UTC, datetime, timedelta

import pytest
from django.contrib.admin.utils import quote
from django.urls import reverse
from django.utils import timezone
from django.utils.html import strip_tags

from clients.services import api_key_create, business_create
from clients.tenancy import Actor, Mode, Tenant
from giftcards import services
from giftcards.models import Status

# Tokyo keeps UTC+9 all year: its abbreviation is always JST.
TOKYO_END_OF_DAY = datetime(2031, 1, 31, 14, 59, 59, tzinfo=UTC)
MOMENT = r"\d{4}-\d\d-\d\d \d\d:\d\d(:\d\d)? "


def text_of(response) -> str:
    return " ".join(html.unescape(strip_tags(response.content.decode())).split())


@pytest.fixture
def tokyo(db):
    return business_create(name="Tokyo Tea", currency_code="JPY", timezone="Asia/Tokyo")


@pytest.fixture
def tokyo_card(tokyo):
    card = services.card_issue(
        tenant=Tenant(business=tokyo, mode=Mode.LIVE),
        actor=Actor.system("tester"),
        balance_cents=5_000,
        status=Status.ACTIVE,
        expires_at=TOKYO_END_OF_DAY,
    )
    services.card_debit(card=card, amount_cents=1_000, actor=Actor.system("tester"))
    return card


@pytest.fixture
def tokyo_manager(tokyo, make_staff):
    return make_staff("manager", business=tokyo, username="tokyo-manager")


def test_the_card_list_names_the_zone(tokyo_card, tokyo_manager, login):
    response = login(tokyo_manager).get(reverse("admin:giftcards_giftcard_changelist"))

    page = text_of(response)
    assert "2031-01-31 23:59 JST" in page  # the expiry
    created = timezone.localtime(tokyo_card.created_at, tokyo_card.business.tzinfo)
    assert f"{created:%Y-%m-%d %H:%M} JST" in page


def test_the_cards_audit_block_and_ledger_name_the_zone(tokyo_card, tokyo_manager, login):
    response = login(tokyo_manager).get(
        reverse("admin:giftcards_giftcard_change", args=[quote(tokyo_card.pk)])
    )

    audit = re.search(
        r'<fieldset class="module aligned[^"]*"[^>]*>\s*<h2[^>]*>Audit.*?</fieldset>',
        response.content.decode(),
        flags=re.S,
    )
    assert audit is not None
    audit_text = " ".join(strip_tags(audit.group(0)).split())
    assert len(re.findall(MOMENT + "JST", audit_text)) == 2, audit_text
    ledger = re.search(r'id="ledger-group".*?</table>', response.content.decode(), re.S)
    assert len(re.findall(MOMENT + "JST", strip_tags(ledger.group(0)))) == 2


def test_the_ledger_list_names_the_zone(tokyo_card, tokyo_manager, login):
    response = login(tokyo_manager).get(reverse("admin:giftcards_balancelog_changelist"))

    assert len(re.findall(MOMENT + "JST", text_of(response))) == 2


def test_the_dashboard_names_the_zone_of_expiring_cards(tokyo, tokyo_manager, login):
    soon = timezone.now() + timedelta(days=3)
    services.card_issue(
        tenant=Tenant(business=tokyo, mode=Mode.LIVE),
        actor=Actor.system("tester"),
        balance_cents=5_000,
        status=Status.ACTIVE,
        expires_at=soon,
    )

    response = login(tokyo_manager).get(reverse("staff-dashboard"))

    assert f"{timezone.localtime(soon, tokyo.tzinfo):%Y-%m-%d %H:%M} JST" in text_of(response)


def test_api_keys_name_the_zone(tokyo, tokyo_manager, login):
    key, _secret = api_key_create(business=tokyo, name="till-1", mode=Mode.LIVE)
    client = login(tokyo_manager)

    listed = text_of(client.get(reverse("admin:clients_apikey_changelist")))
    page = text_of(client.get(reverse("admin:clients_apikey_change", args=[quote(key.pk)])))

    created = f"{timezone.localtime(key.created, tokyo.tzinfo):%Y-%m-%d %H:%M} JST"
    assert created in listed and created in page
    assert "never" in listed


def test_a_superuser_reads_utc(tokyo_card, superuser, login):
    response = login(superuser).get(reverse("admin:giftcards_giftcard_changelist"))

    page = text_of(response)
    # The expiry stays in the card's business zone, where "valid through" is meant.
    assert "2031-01-31 23:59 JST" in page
    assert re.search(MOMENT + "UTC", page)
