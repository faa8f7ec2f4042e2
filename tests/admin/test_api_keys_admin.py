"""Creating an API key in the admin: post/redirect/get, so the secret is shown once, on the
page the creation redirects to, and reloading that page neither shows it again nor creates
another key."""

from __future__ import annotations

import html

import pytest
from django.contrib.admin.utils import quote
from django.urls import reverse
from django.utils.html import strip_tags

from clients.admin import NEW_SECRETS_SESSION_KEY
from clients.models import ApiKey
from clients.services import api_key_create, client_create


@pytest.fixture
def manager(make_staff):
    return make_staff("manager")


def create(client, name="till-9"):
    return client.post(reverse("admin:clients_apikey_add"), {"name": name, "mode": "live"})


def test_creating_a_key_redirects_to_the_page_that_shows_its_secret(manager, login):
    client = login(manager)

    response = create(client)

    key = ApiKey.objects.get(name="till-9")
    assert response.status_code == 302
    assert response["Location"] == reverse("admin:clients_apikey_created", args=[quote(key.pk)])
    shown = client.get(response["Location"])
    assert shown.status_code == 200
    assert "no-store" in shown["Cache-Control"]
    assert ApiKey.objects.get_from_key(shown.context["secret"]).pk == key.pk
    assert shown.context["secret"] in shown.content.decode()
    assert "cannot be shown again" in shown.content.decode()


def test_reloading_the_page_makes_no_second_key_and_does_not_show_the_secret(manager, login):
    client = login(manager)
    page = create(client)["Location"]
    secret = client.get(page).context["secret"]

    reloaded = client.get(page)

    assert ApiKey.objects.count() == 1
    assert reloaded.status_code == 200
    assert reloaded.context["secret"] is None
    assert secret not in reloaded.content.decode()
    assert "was already shown" in reloaded.content.decode()
    assert "No new key was created" in reloaded.content.decode()
    assert client.session.get(NEW_SECRETS_SESSION_KEY) == {}


def test_the_secret_is_never_in_the_creating_response_nor_in_a_cookie(manager, login):
    client = login(manager)

    response = create(client)

    key = ApiKey.objects.get()
    secret = client.session[NEW_SECRETS_SESSION_KEY][key.pk]
    assert secret not in response.content.decode()
    assert all(secret not in morsel.value for morsel in response.cookies.values())


def test_another_session_never_sees_the_secret(manager, login, make_staff):
    page = create(login(manager))["Location"]

    other = login(make_staff("manager", username="second-manager")).get(page)

    assert other.status_code == 200
    assert other.context["secret"] is None


def test_another_business_cannot_open_the_page(manager, login, make_staff, other_business):
    page = create(login(manager))["Location"]

    response = login(make_staff("manager", business=other_business)).get(page)

    assert response.status_code == 404


def test_a_cashier_cannot_open_the_page(manager, login, make_staff):
    page = create(login(manager))["Location"]

    assert login(make_staff("cashier")).get(page).status_code == 403


# ---------------------------------------------------------------------------- list actions


def run_action(client, url, action, objects, **extra):
    data = {"action": action, "_selected_action": [obj.pk for obj in objects], **extra}
    return client.post(url, data)


def test_revoking_keys_asks_first_and_revokes_once_confirmed(manager, login, business):
    keys = [api_key_create(business=business, name=f"till-{n}")[0] for n in (1, 2)]
    client = login(manager)
    url = reverse("admin:clients_apikey_changelist")

    asked = run_action(client, url, "revoke_keys", keys)

    assert asked.status_code == 200
    assert not ApiKey.objects.filter(revoked=True).exists()
    page = " ".join(html.unescape(strip_tags(asked.content.decode())).split())
    assert "till-1 (live, " in page and "usable → revoked" in page
    confirmed = run_action(client, url, "revoke_keys", keys, post="yes")
    assert confirmed.status_code == 302
    assert ApiKey.objects.filter(revoked=True).count() == 2


def test_deactivating_clients_asks_first(manager, login, tenant, actor):
    customer = client_create(tenant=tenant, actor=actor, first_name="Ann", email="a@x.test")
    client = login(manager)
    url = reverse("admin:clients_client_changelist")

    asked = run_action(client, url, "deactivate_clients", [customer])

    customer.refresh_from_db()
    assert asked.status_code == 200 and customer.active
    assert "active → inactive" in " ".join(
        html.unescape(strip_tags(asked.content.decode())).split()
    )
    run_action(client, url, "deactivate_clients", [customer], post="yes")
    customer.refresh_from_db()
    assert not customer.active
