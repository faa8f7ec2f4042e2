"""Fixtures for the plain API (seed 000): API clients per business and mode, clients, and a
card factory that goes through POST /giftcards."""

from __future__ import annotations

import pytest
from django.core.cache import cache
from django.utils import timezone
from rest_framework.test import APIClient

from clients.models import Client
from clients.services import api_key_create, business_create, client_create
from clients.tenancy import Mode, Tenant
from tests.giftcards.plain_api.helpers import api_client, card_body


@pytest.fixture(autouse=True)
def _fresh_throttle_cache():
    """Throttle counters live in the cache; ids repeat across tests, so start clean."""
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def api(api_key) -> APIClient:
    """Live-mode client of `business` (key name "pos-1")."""
    return api_client(api_key[1])


@pytest.fixture
def customer(tenant, actor) -> Client:
    return client_create(
        tenant=tenant, actor=actor, first_name="Ada", last_name="Lovelace", email="ada@example.com"
    )


@pytest.fixture
def other_tenant(other_business) -> Tenant:
    return Tenant(business=other_business, mode=Mode.LIVE)


@pytest.fixture
def other_api(other_business) -> APIClient:
    """Live-mode client of `other_business` (business B)."""
    return api_client(api_key_create(business=other_business, name="b-pos", mode=Mode.LIVE)[1])


@pytest.fixture
def other_customer(other_tenant, actor) -> Client:
    return client_create(tenant=other_tenant, actor=actor, first_name="Bob", last_name="Other")


@pytest.fixture
def test_mode_api(business) -> APIClient:
    """Test-mode client of `business`: must never see its live rows."""
    return api_client(api_key_create(business=business, name="pos-test", mode=Mode.TEST)[1])


@pytest.fixture
def ny_business(db):
    return business_create(name="Gotham Books", currency_code="USD", timezone="America/New_York")


@pytest.fixture
def ny_tenant(ny_business) -> Tenant:
    return Tenant(business=ny_business, mode=Mode.LIVE)


@pytest.fixture
def ny_api(ny_business) -> APIClient:
    return api_client(api_key_create(business=ny_business, name="ny-pos", mode=Mode.LIVE)[1])


@pytest.fixture
def ny_customer(ny_tenant, actor) -> Client:
    return client_create(tenant=ny_tenant, actor=actor, first_name="Bruce", last_name="W")


@pytest.fixture
def create_card(api, customer):
    """POST /giftcards through the API; returns the response body (asserts 201)."""

    def create(client: Client | None = None, via: APIClient | None = None, **overrides) -> dict:
        response = (via or api).post(
            "/giftcards", card_body(client or customer, **overrides), format="json"
        )
        assert response.status_code == 201, response.content
        return response.json()

    return create


@pytest.fixture
def freeze(monkeypatch):
    """freeze(moment): django's timezone.now() returns `moment` (what services and models
    read for expiry) until the test ends."""

    def set_clock(moment):
        monkeypatch.setattr(timezone, "now", lambda: moment)

    return set_clock
