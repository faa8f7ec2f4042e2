"""The ledger admin: rows are read, never added, changed or deleted, by anyone."""

from __future__ import annotations

import pytest
from django.contrib import admin
from django.contrib.admin.utils import quote
from django.test import RequestFactory
from django.urls import reverse

from giftcards import services
from giftcards.admin.ledger import LEDGER_ROWS_ON_CARD_PAGE
from giftcards.models import BalanceLog, Status


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


def test_card_page_shows_the_newest_ledger_rows_and_links_to_all(
    make_staff, login, make_card, actor
):

    card = make_card(balance_cents=100_000, status=Status.ACTIVE)
    for cents in range(1, LEDGER_ROWS_ON_CARD_PAGE + 11):  # 60 debits, 61 rows with the issue
        services.card_debit(card=card, amount_cents=cents, actor=actor, order_reference=f"R{cents}")
    client = login(make_staff("viewer"))

    page = client.get(
        reverse("admin:giftcards_giftcard_change", args=[quote(card.pk)])
    ).content.decode()
    ledger = client.get(f"{reverse('admin:giftcards_balancelog_changelist')}?card__in={card.pk}")

    assert page.count('class="field-order_reference"') == LEDGER_ROWS_ON_CARD_PAGE
    assert ">R60<" in page and ">R11<" in page and ">R10<" not in page  # newest first
    assert "61 ledger rows; the newest 50 are on this page" in page
    assert f"?card__in={card.pk}" in page
    assert ledger.status_code == 200
    assert ledger.context["cl"].result_count == 61
