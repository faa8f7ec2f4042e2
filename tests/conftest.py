"""Shared fixtures: businesses, tenants, actors, API keys and a card factory."""

from __future__ import annotations

import pytest
from django.db import connection

from clients.services import api_key_create, business_create
from clients.tenancy import Actor, Mode, Tenant
from giftcards import services
from giftcards.models import Status


def pytest_collection_modifyitems(config, items):
    if connection.vendor == "postgresql":
        return
    skip = pytest.mark.skip(reason="needs PostgreSQL (set DATABASE_URL to a postgres:// URL)")
    for item in items:
        if "postgres_only" in item.keywords:
            item.add_marker(skip)


@pytest.fixture
def business(db):
    return business_create(name="Acme Books", currency_code="USD")


@pytest.fixture
def other_business(db):
    return business_create(name="Other Shop", currency_code="EUR", locale="de_DE")


@pytest.fixture
def tenant(business):
    return Tenant(business=business, mode=Mode.LIVE)


@pytest.fixture
def actor():
    return Actor.system("tester")


@pytest.fixture
def api_key(business):
    """(ApiKey, secret) of the live mode of `business`."""
    return api_key_create(business=business, name="pos-1", mode=Mode.LIVE)


@pytest.fixture
def make_card(tenant, actor):
    """Issue a card through the services; active with 100.00 USD unless told otherwise."""

    def make(**kwargs):
        kwargs.setdefault("balance_cents", 10_000)
        kwargs.setdefault("status", Status.ACTIVE)
        return services.card_issue(
            tenant=kwargs.pop("tenant", tenant), actor=kwargs.pop("actor", actor), **kwargs
        )

    return make
