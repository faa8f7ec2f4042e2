"""Dates in the admin: a day or moment outside what the service accepts (giftcards/dates.py)
is a form error or a refusal message, never a 500; and a card at either end of that range
shows on every page that shows cards, in the most distant zones."""

from __future__ import annotations

import datetime as dt

import pytest
from django.contrib.admin.utils import quote
from django.test import Client
from django.urls import reverse

from clients.services import api_key_create, business_create, client_create
from clients.tenancy import Actor, Mode, Tenant
from giftcards import dates, services
from giftcards.models import GiftCard, Status
from tests.giftcards.jsonapi.conftest import JsonApiClient
from tests.giftcards.plain_api.helpers import api_client

SALE = {"amount": "10", "status": "active", "mode": "live", "rechargeable": "on"}
CODE = "EDGE-OFTH-EDAY-7Q2W"


def change_url(card):
    return reverse("admin:giftcards_giftcard_change", args=[quote(card.pk)])


def attribute_form(**values):
    return {
        "metadata": "{}",
        "rechargeable": "on",
        "distribute_discount": "on",
        "ledger-TOTAL_FORMS": "0",
        "ledger-INITIAL_FORMS": "0",
        **values,
    }


@pytest.fixture
def new_york(db):
    return business_create(name="Gotham", currency_code="USD", timezone="America/New_York")


@pytest.fixture
def ny_manager(make_staff, login, new_york):
    return login(make_staff("manager", business=new_york, username="ny-manager"))


@pytest.mark.parametrize("day", ["9999-12-31", "9999-12-30", "0001-01-01"])
def test_selling_a_card_that_expires_outside_the_range_is_a_form_error(ny_manager, day):
    response = ny_manager.post(reverse("admin:giftcards_giftcard_add"), {**SALE, "expires_on": day})

    assert response.status_code == 200
    errors = response.context["adminform"].form.errors
    assert "expires_on" in errors
    assert GiftCard.objects.count() == 0


def test_selling_a_card_valid_through_9999_12_29_in_new_york(ny_manager):
    # The end of 9999-12-30 there is 9999-12-31T04:59:59.999999Z, past the range.
    response = ny_manager.post(
        reverse("admin:giftcards_giftcard_add"), {**SALE, "expires_on": "9999-12-29"}
    )

    assert response.status_code == 302
    card = GiftCard.objects.get()
    assert card.expires_at.astimezone(dt.UTC) <= dates.LATEST


@pytest.mark.parametrize(
    "name,day,time",
    [
        ("expires_at", "9999-12-31", "23:00:00"),
        ("expires_at", "0001-01-01", "00:00:00"),
        ("purchase_date", "9999-12-31", "20:00:00"),
    ],
)
def test_a_card_page_date_outside_the_range_changes_nothing(ny_manager, new_york, name, day, time):
    card = services.card_issue(
        tenant=Tenant(business=new_york, mode=Mode.LIVE),
        actor=Actor.system("t"),
        balance_cents=100,
        status=Status.ACTIVE,
    )
    before = getattr(card, name)

    response = ny_manager.post(
        change_url(card), attribute_form(**{f"{name}_0": day, f"{name}_1": time}), follow=True
    )

    assert response.status_code == 200
    assert any(dates.RANGE_TEXT in str(m) for m in response.context["messages"])
    card.refresh_from_db()
    assert getattr(card, name) == before


# ---------------------------------------------------------------------------- shown everywhere


@pytest.mark.parametrize(
    "zone,moment",
    [
        ("Pacific/Kiritimati", dates.LATEST),
        ("Etc/GMT+12", dates.LATEST),
        ("Asia/Manila", dates.EARLIEST),
        ("America/Metlakatla", dates.EARLIEST),
        ("Asia/Tokyo", dates.LATEST),
    ],
)
def test_a_card_at_an_end_of_the_range_shows_everywhere(zone, moment, make_staff, login, superuser):
    business = business_create(name=f"Shop in {zone}", currency_code="USD", timezone=zone)
    tenant = Tenant(business=business, mode=Mode.LIVE)
    customer = client_create(tenant=tenant, actor=Actor.system("t"), first_name="A")
    card = services.card_issue(
        tenant=tenant,
        actor=Actor.system("t"),
        balance_cents=100,
        status=Status.ACTIVE,
        code=CODE,
        client=customer,
        purchase_date=moment,
        expires_at=moment,
    )
    secret = api_key_create(business=business, name="k", mode=Mode.LIVE)[1]
    plain, jsonapi = api_client(secret), JsonApiClient(secret)
    manager = login(make_staff("manager", business=business, username="edge-manager"))
    root = login(superuser)

    pages = {
        "plain card": plain.get(f"/giftcards/{card.pk}"),
        "plain client cards": plain.get(f"/giftcards/client/{customer.pk}"),
        "plain payments": plain.get(f"/payments/giftCard/{card.pk}"),
        "jsonapi card": jsonapi.get(f"/api/gift_cards/{card.pk}"),
        "jsonapi list": jsonapi.get("/api/gift_cards"),
        "jsonapi versions": jsonapi.get(f"/api/gift_cards/{card.pk}/versions"),
        "balance": Client().post(f"/balance?business={business.pk}", {"code": CODE}),
        "admin list": manager.get(reverse("admin:giftcards_giftcard_changelist")),
        "admin card": manager.get(change_url(card)),
        "admin history": manager.get(
            reverse("admin:giftcards_giftcard_history", args=[quote(card.pk)])
        ),
        "admin dashboard": manager.get(reverse("staff-dashboard")),
        "superuser list": root.get(reverse("admin:giftcards_giftcard_changelist")),
        "superuser card": root.get(change_url(card)),
    }
    export = manager.get(reverse("admin:giftcards_giftcard_export"))
    rows = b"".join(export.streaming_content).decode().splitlines()
    deleted = plain.delete(f"/giftcards/{card.pk}")

    assert {name: r.status_code for name, r in pages.items()} == dict.fromkeys(pages, 200)
    assert export.status_code == 200
    assert len(rows) == 2
    assert deleted.status_code == 200
    assert plain.get(f"/giftcards/{card.pk}").json()["status"] == "Deleted"
