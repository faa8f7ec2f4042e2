"""Creating an API key in the admin: post/redirect/get, so the secret is shown once, on the
page the creation redirects to, and reloading that page neither shows it again nor creates
another key. Until then the session holds it sealed, for a few minutes only."""

from __future__ import annotations

import html
import json

import pytest
from django.contrib.admin.utils import quote
from django.contrib.sessions.models import Session
from django.urls import reverse
from django.utils.html import strip_tags

from clients import session_secrets
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

    secret = client.get(response["Location"]).context["secret"]
    assert secret not in response.content.decode()
    assert all(secret not in morsel.value for morsel in response.cookies.values())


def test_the_session_holds_the_secret_sealed_not_in_clear(manager, login):
    client = login(manager)
    page = create(client)["Location"]
    key = ApiKey.objects.get()
    row = Session.objects.get(session_key=client.session.session_key)
    stored = row.get_decoded()[NEW_SECRETS_SESSION_KEY][key.pk]

    secret = client.get(page).context["secret"]

    assert secret
    hidden_part = secret.split(".", 1)[1]
    assert hidden_part not in json.dumps(stored)
    assert hidden_part not in row.session_data
    assert set(stored) == {"sealed", "created_at"}


def later(monkeypatch, seconds: int) -> None:
    at = session_secrets.now() + seconds
    monkeypatch.setattr(session_secrets, "now", lambda: at)


def test_a_secret_not_shown_within_minutes_is_not_shown_and_is_removed(manager, login, monkeypatch):
    client = login(manager)
    page = create(client)["Location"]
    later(monkeypatch, session_secrets.TTL_SECONDS + 1)

    response = client.get(page)

    assert response.status_code == 200
    assert response.context["secret"] is None
    text = " ".join(html.unescape(strip_tags(response.content.decode())).split())
    assert "can no longer be shown" in text
    assert "Revoke this key and create a new one." in text
    assert client.session.get(NEW_SECRETS_SESSION_KEY) == {}


def test_a_secret_opened_within_minutes_is_shown(manager, login, monkeypatch):
    client = login(manager)
    page = create(client)["Location"]
    later(monkeypatch, session_secrets.TTL_SECONDS - 5)

    assert client.get(page).context["secret"]


def test_an_old_timestamp_cannot_be_refreshed_in_the_session(manager, login, monkeypatch):
    client = login(manager)
    page = create(client)["Location"]
    key = ApiKey.objects.get()
    later(monkeypatch, session_secrets.TTL_SECONDS + 1)
    session = client.session
    session[NEW_SECRETS_SESSION_KEY][key.pk]["created_at"] = session_secrets.now()
    session.save()

    assert client.get(page).context["secret"] is None


def test_secrets_never_shown_are_dropped_when_the_next_key_is_created(manager, login, monkeypatch):
    client = login(manager)
    create(client, name="till-1")
    later(monkeypatch, session_secrets.TTL_SECONDS + 1)

    create(client, name="till-2")

    assert list(client.session[NEW_SECRETS_SESSION_KEY]) == [ApiKey.objects.get(name="till-2").pk]


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
