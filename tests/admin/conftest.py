"""Fixtures for the staff admin: the three roles, staff users of two businesses, logged-in
test clients, cards of both businesses, and webhooks calling a receiver on 127.0.0.1."""

from __future__ import annotations

import importlib

import pytest
from django.apps import apps
from django.contrib.auth.models import Group
from django.core.cache import cache
from django.test import Client as HttpClient

from clients.models import User
from clients.tenancy import Mode, Tenant
from giftcards import services
from giftcards.models import Status

roles_migration = importlib.import_module("clients.migrations.0003_staff_roles")
events_roles_migration = importlib.import_module(
    "clients.migrations.0006_manager_event_permissions"
)
ROLES = ("viewer", "cashier", "manager")
PASSWORD = "correct horse battery staple"


@pytest.fixture(autouse=True)
def roles(db):
    """The role groups. A transactional test elsewhere in the run flushes the tables the
    migration filled, so they are made again (idempotently) for each test; the webhook and
    e-mail permissions after them, since `create_roles` sets each group's whole list."""
    roles_migration.create_roles(apps)
    events_roles_migration.grant_manager_events(apps)
    return {group.name: group for group in Group.objects.filter(name__in=ROLES)}


@pytest.fixture(autouse=True)
def _fresh_cache():
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def make_staff(business):
    def make(role: str | None, *, business=business, username: str | None = None) -> User:
        user = User.objects.create_user(
            username=username or f"{role or 'norole'}-{business.pk}",
            password=PASSWORD,
            is_staff=True,
            business=business,
        )
        if role is not None:
            user.groups.add(Group.objects.get(name=role))
        return user

    return make


@pytest.fixture
def login():
    def log_in(user: User) -> HttpClient:
        client = HttpClient()
        client.force_login(user)
        return client

    return log_in


@pytest.fixture
def superuser(db):
    return User.objects.create_superuser(username="root", password=PASSWORD, email="r@x.test")


@pytest.fixture
def other_tenant(other_business):
    return Tenant(business=other_business, mode=Mode.LIVE)


@pytest.fixture
def other_card(other_tenant, actor):
    """A card of business B (other_business)."""
    return services.card_issue(
        tenant=other_tenant,
        actor=actor,
        balance_cents=5_000,
        status=Status.ACTIVE,
        code="OTHR-SHOP-CARD-0001",
        reference="other-ref",
    )
