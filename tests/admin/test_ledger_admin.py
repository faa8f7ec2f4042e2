"""The ledger admin: rows are read, never added, changed or deleted, by anyone."""

from __future__ import annotations

import pytest
from django.contrib import admin
from django.test import RequestFactory
from django.urls import reverse

from giftcards.models import BalanceLog


@pytest.fixture
def entry(make_card):
    return BalanceLog.objects.get(card=make_card())


def test_superuser_cannot_add_change_or_delete_ledger_rows(superuser, login, entry):
    client = login(superuser)
    before = BalanceLog.objects.filter(pk=entry.pk).values().get()

    add = client.get(reverse("admin:giftcards_balancelog_add"))
    change = client.post(
        reverse("admin:giftcards_balancelog_change", args=[entry.pk]),
        {"amount_cents": "1", "note": "edited"},
    )
    delete = client.post(
        reverse("admin:giftcards_balancelog_delete", args=[entry.pk]), {"post": "yes"}
    )
    bulk = client.post(
        reverse("admin:giftcards_balancelog_changelist"),
        {"action": "delete_selected", "_selected_action": [entry.pk], "post": "yes"},
    )

    assert (add.status_code, change.status_code, delete.status_code) == (403, 403, 403)
    assert bulk.status_code in (200, 302)
    assert BalanceLog.objects.filter(pk=entry.pk).values().get() == before


def test_ledger_admin_denies_every_write_permission_even_to_superusers(superuser):
    model_admin = admin.site._registry[BalanceLog]
    request = RequestFactory().get("/")
    request.user = superuser

    assert not model_admin.has_add_permission(request)
    assert not model_admin.has_change_permission(request)
    assert not model_admin.has_delete_permission(request)
    assert "delete_selected" not in model_admin.get_actions(request)
    assert model_admin.has_view_permission(request)


def test_superuser_reads_a_ledger_row(superuser, login, entry):
    response = login(superuser).get(reverse("admin:giftcards_balancelog_change", args=[entry.pk]))

    assert response.status_code == 200
    html = response.content.decode()
    assert "+$100.00" in html
    assert 'name="_save"' not in html
