"""The admin site as a whole: where "View site" leads, and NUL characters in any admin's
search, filters and autocomplete (a 500 on PostgreSQL before they were stripped)."""

from __future__ import annotations

import json
import re

import pytest
from django.contrib import admin
from django.urls import reverse

REGISTERED = sorted(
    f"{model._meta.app_label}_{model._meta.model_name}" for model in admin.site._registry
)


def test_view_site_leads_to_the_balance_page_not_a_json_404(superuser, login):
    client = login(superuser)

    html = client.get(reverse("admin:index")).content.decode()
    target = client.get(admin.site.site_url)

    assert f'<a href="{admin.site.site_url}">View site</a>' in html
    assert target.status_code == 200
    assert target["Content-Type"].startswith("text/html")


@pytest.mark.parametrize("name", REGISTERED)
@pytest.mark.parametrize(
    "params", [{"q": "\x00"}, {"q": "ab\x00cd"}, {"reference": "\x00"}, {"status__exact": "\x00"}]
)
def test_nul_characters_in_list_queries_are_harmless(name, params, superuser, login, make_card):
    make_card(reference="abcd")

    response = login(superuser).get(reverse(f"admin:{name}_changelist"), params)

    assert response.status_code in (200, 302)  # 302: an unknown filter, Django's "?e=1"


@pytest.mark.parametrize(
    ("model", "field"),
    [("giftcard", "client"), ("giftcard", "recipient"), ("giftcard", "market")],
)
def test_nul_characters_in_autocomplete_are_harmless(model, field, superuser, login):
    response = login(superuser).get(
        reverse("admin:autocomplete"),
        {"app_label": "giftcards", "model_name": model, "field_name": field, "term": "\x00"},
    )

    assert response.status_code in (200, 403)  # 403: the field has no autocomplete
    if response.status_code == 200:
        assert json.loads(response.content)["results"] == []


def test_the_audits_autocomplete_url_answers(superuser, login, make_card, tenant, actor):
    from clients.services import client_create

    client_create(tenant=tenant, actor=actor, first_name="Ada", last_name="Lovelace")
    client = login(superuser)

    response = client.get(
        "/admin/autocomplete/?app_label=giftcards&model_name=giftcard&field_name=client&term=%00"
    )
    named = client.get(
        "/admin/autocomplete/?app_label=giftcards&model_name=giftcard&field_name=client&term=Ada%00"
    )

    assert response.status_code == 200
    assert [row["text"] for row in json.loads(named.content)["results"]] == ["Ada Lovelace"]


def staff_menu(html: str) -> str:
    found = re.search(r'<nav class="gc-nav" aria-label="Staff menu">(.*?)</nav>', html, re.S)
    assert found, "no staff menu"
    return found.group(1)


@pytest.mark.parametrize("role", ["viewer", "cashier", "manager", None])
def test_the_staff_menu_links_the_api_docs_for_every_role(role, make_staff, superuser, login):
    user = superuser if role is None else make_staff(role)
    client = login(user)

    menu = staff_menu(client.get(reverse("admin:index")).content.decode())

    assert f'<a href="{reverse("swagger-ui")}">API docs</a>' in menu
    assert f'<a href="{reverse("redoc")}">API reference (Redoc)</a>' in menu
    assert reverse("swagger-ui") == "/api/schema/swagger-ui"
    assert reverse("redoc") == "/api/schema/redoc"
    for name in ("swagger-ui", "redoc"):
        page = client.get(reverse(name))
        assert page.status_code == 200
        assert page["Content-Type"].startswith("text/html")


def test_the_login_page_shows_no_staff_menu(client):
    html = client.get(reverse("admin:login")).content.decode()

    assert "Staff menu" not in html
    assert "/api/schema/swagger-ui" not in html
