"""A NUL character in a query string or a /balance form is a 400 in the format of the part of
the site that was asked, on both engines (PostgreSQL refuses NUL in text, SQLite does not),
before any view reads it; the admin, which drops NUL from its searches and refuses it in its
forms, answers no 500 either."""

from __future__ import annotations

import json

import pytest
from django.apps import apps
from django.contrib.admin.utils import quote
from django.contrib.auth.models import Group
from django.test import Client
from django.urls import reverse

from clients.models import User
from giftcards.models import GiftCard
from tests.admin.conftest import roles_migration

JSONAPI = "application/vnd.api+json"


@pytest.fixture
def bearer(api_key):
    return {"Authorization": f"Bearer {api_key[1]}"}


@pytest.fixture
def superuser_client(db):
    user = User.objects.create_superuser(username="root", password="x", email="r@x.test")
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def staff_client(business, db):
    roles_migration.create_roles(apps)
    user = User.objects.create_user(username="mgr", password="x", is_staff=True, business=business)
    user.groups.add(Group.objects.get(name="manager"))
    client = Client()
    client.force_login(user)
    return client


@pytest.mark.parametrize(
    "query,parameter",
    [
        ("filter[reference]=%00", "filter[reference]"),
        ("filter[q][reference_cont]=a%00b", "filter[q][reference_cont]"),
        ("filter[q][code_eq]=%00", "filter[q][code_eq]"),
        ("filter[q][status_in]=active,%00", "filter[q][status_in]"),
        ("filter[q][created_at_gt]=2020-01-01%00", "filter[q][created_at_gt]"),
        ("sort=%00", "sort"),
        ("include=market%00", "include"),
        ("page[number]=1%00", "page[number]"),
        ("fields[gift_cards]=code%00", "fields[gift_cards]"),
        ("filter[%00]=x", "filter[\x00]"),
    ],
)
def test_a_nul_in_a_jsonapi_query_is_a_400_naming_the_parameter(client, bearer, query, parameter):
    response = client.get(f"/api/gift_cards?{query}", headers={**bearer, "Accept": JSONAPI})

    assert response.status_code == 400
    assert response["Content-Type"] == JSONAPI
    (error,) = json.loads(response.content)["errors"]
    assert error["status"] == "400"
    assert error["meta"]["error"] == "invalid_character"
    assert error["source"] == {"parameter": parameter}
    assert "NUL" in error["detail"]


def test_a_nul_in_a_jsonapi_write_query_is_refused_before_the_write(client, bearer, make_card):
    card = make_card()
    body = {"data": {"type": "gift_cards", "id": card.pk, "attributes": {"reference": "x"}}}

    response = client.patch(
        f"/api/gift_cards/{card.pk}?include=%00",
        json.dumps(body),
        content_type=JSONAPI,
        headers={**bearer, "Accept": JSONAPI},
    )

    assert response.status_code == 400
    card.refresh_from_db()
    assert card.reference == ""


@pytest.mark.parametrize("path", ["/giftcards/client/1", "/clients", "/healthz", "/api/schema"])
def test_a_nul_in_a_plain_query_is_a_400_with_a_detail(client, bearer, path):
    response = client.get(f"{path}?format=%00", headers=bearer)

    assert response.status_code == 400
    assert response["Content-Type"] == "application/json"
    assert "'format'" in response.json()["detail"]


@pytest.mark.parametrize(
    "query",
    ["q=%00", "q=ab%00cd", "status__exact=%00", "o=%00", "market__id__exact=%00", "%00=1"],
)
def test_the_admin_list_drops_nul_characters_itself(
    staff_client, superuser_client, make_card, query
):
    # The admin strips NUL from searches and filters (clients/admin.py): never a 500.
    make_card(reference="ref-1")
    for client in (staff_client, superuser_client):
        response = client.get(f"{reverse('admin:giftcards_giftcard_changelist')}?{query}")
        assert response.status_code in (200, 302)


@pytest.mark.parametrize(
    "name",
    [
        "admin:giftcards_giftcard_export",
        "admin:clients_client_changelist",
        "admin:giftcards_giftcardrecipient_changelist",
        "admin:giftcards_balancelog_changelist",
    ],
)
def test_other_admin_queries_with_nul_are_harmless(staff_client, make_card, name):
    make_card(reference="ref-1")

    response = staff_client.get(f"{reverse(name)}?q=%00&o=%00")

    assert response.status_code in (200, 302)


def test_a_nul_in_an_admin_form_is_a_form_error_and_changes_nothing(staff_client, make_card):
    card = make_card(reference="before")
    # Quoted as the admin quotes ids: a card id may hold "_", its escape character.
    url = reverse("admin:giftcards_giftcard_change", args=[quote(card.pk)])

    response = staff_client.post(
        url,
        {
            "reference": "after\x00",
            "metadata": "{}",
            "ledger-TOTAL_FORMS": "0",
            "ledger-INITIAL_FORMS": "0",
        },
    )

    assert response.status_code == 200
    assert "reference" in response.context["adminform"].form.errors
    card.refresh_from_db()
    assert card.reference == "before"


def test_a_nul_on_the_balance_page_is_a_400(client, db):
    assert client.get("/balance?business=%00").status_code == 400
    assert client.post("/balance", {"code": "ABCD\x00"}).status_code == 400


def test_a_plain_query_string_is_left_alone(client, bearer, make_card):
    card = make_card()

    response = client.get(f"/giftcards/{card.pk}?anything=%C3%A9t%C3%A9", headers=bearer)

    assert response.status_code == 200
    assert GiftCard.objects.count() == 1
