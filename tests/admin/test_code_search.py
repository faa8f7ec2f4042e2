"""Searching by a full code never puts the code in a URL: the search boxes POST to a find
view that opens the card (or its ledger rows); a code-shaped term that matches nothing comes
back as a generic message; other terms become the usual `?q=` search. A full code that still
arrives by GET works without being echoed into the page."""

from __future__ import annotations

import pytest
from django.contrib.admin.utils import quote
from django.test import Client as HttpClient
from django.urls import reverse

from giftcards import codes
from giftcards.admin.code_search import NO_MATCH
from giftcards.models import BalanceLog

CODE = "FIND-MECO-DEAA-7Q2W"
CARDS = "admin:giftcards_giftcard_changelist"
LEDGER = "admin:giftcards_balancelog_changelist"


def find_url(model="giftcard"):
    return reverse(f"admin:giftcards_{model}_find")


def change_url(card):
    return reverse("admin:giftcards_giftcard_change", args=[quote(card.pk)])


def holds_code(text: str) -> bool:
    """Whether a URL or a page shows the code in any of the ways it can be typed."""
    text = text.upper()
    return any(
        variant in text
        for variant in (CODE, codes.normalise(CODE), CODE.replace("-", "+"), "FIND MECO")
    )


@pytest.fixture
def card(make_card):
    return make_card(code=CODE, reference="order-881")


@pytest.fixture
def manager(make_staff, login):
    return login(make_staff("manager"))


@pytest.mark.parametrize("typed", [CODE, "find meco deaa 7q2w", "findmecodeaa7q2w"])
def test_posting_a_full_code_opens_its_card(typed, manager, card, make_card):
    make_card(code="OTHE-RCAR-DXXX-0001")

    response = manager.post(find_url(), {"q": typed})

    assert response.status_code == 302
    assert response["Location"] == change_url(card)
    assert not holds_code(response["Location"])


def test_an_unknown_code_comes_back_to_the_list_with_a_generic_message(manager, card):
    response = manager.post(
        find_url(),
        {"q": "NOPE-NOPE-NOPE-NOPE", "_changelist_filters": "status__exact=active&q=x&p=2"},
        follow=True,
    )

    location = response.redirect_chain[0][0]
    assert location == reverse(CARDS) + "?status__exact=active"
    assert "NOPE" not in response.content.decode()
    assert [str(m) for m in response.context["messages"]] == [NO_MATCH]


@pytest.mark.parametrize(
    ("typed", "query"),
    [
        ("order-881", "q=order-881"),
        ("7Q2W", "q=7Q2W"),
        ("****7q2w", "q=%2A%2A%2A%2A7q2w"),
        ("ada@example.com", "q=ada%40example.com"),
        ("  Lovelace ", "q=Lovelace"),
    ],
)
def test_other_terms_become_the_usual_search(typed, query, manager, card, make_card, tenant, actor):
    from clients.services import client_create

    ada = client_create(tenant=tenant, actor=actor, first_name="Ada", last_name="Lovelace")
    make_card(client=ada)

    response = manager.post(find_url(), {"q": typed})

    assert response.status_code == 302
    assert response["Location"] == f"{reverse(CARDS)}?{query}"


def test_a_code_shaped_name_is_searched_not_refused(manager, make_card, tenant, actor):
    from clients.services import client_create

    # "Vanderbilt" passes as a code (8+ letters): it is a name because it finds a client's card.
    vanderbilt = client_create(tenant=tenant, actor=actor, first_name="C", last_name="Vanderbilt")
    wanted = make_card(client=vanderbilt)

    response = manager.post(find_url(), {"q": "Vanderbilt"}, follow=True)

    assert response.redirect_chain[0][0] == reverse(CARDS) + "?q=Vanderbilt"
    assert [c.pk for c in response.context["cl"].result_list] == [wanted.pk]


def test_the_find_view_needs_post_csrf_and_the_view_permission(make_staff, login, card):
    assert login(make_staff("viewer")).get(find_url()).status_code == 405
    assert login(make_staff(None)).post(find_url(), {"q": CODE}).status_code == 403

    strict = HttpClient(enforce_csrf_checks=True)
    strict.force_login(make_staff("cashier"))
    assert strict.post(find_url(), {"q": CODE}).status_code == 403


def test_another_business_code_is_not_found(make_staff, login, card, other_business):
    b_viewer = login(make_staff("viewer", business=other_business, username="b-viewer"))

    response = b_viewer.post(find_url(), {"q": CODE}, follow=True)

    assert response.redirect_chain[0][0] == reverse(CARDS)
    assert [str(m) for m in response.context["messages"]] == [NO_MATCH]
    assert list(response.context["cl"].result_list) == []


def test_a_code_held_by_two_businesses_lists_both_cards_for_a_superuser(
    superuser, login, card, other_tenant, actor
):
    from giftcards import services

    other = services.card_issue(tenant=other_tenant, actor=actor, balance_cents=100, code=CODE)

    response = login(superuser).post(find_url(), {"q": CODE}, follow=True)

    assert not holds_code(response.redirect_chain[0][0])
    assert {c.pk for c in response.context["cl"].result_list} == {card.pk, other.pk}


def test_the_search_box_posts_to_the_find_view_and_keeps_the_filters(manager, card):
    html = manager.get(reverse(CARDS), {"status__exact": "active"}).content.decode()

    assert f'<form id="changelist-search" method="post" action="{find_url()}"' in html
    assert 'name="csrfmiddlewaretoken"' in html
    assert 'name="_changelist_filters" value="status__exact=active"' in html


def test_a_full_code_arriving_by_get_still_opens_the_card(manager, card):
    response = manager.get(reverse(CARDS), {"q": CODE.lower()})

    assert response.status_code == 302
    assert response["Location"] == change_url(card)


def test_a_full_code_by_get_in_a_popup_is_not_echoed_into_the_page(manager, card):
    response = manager.get(reverse(CARDS), {"q": CODE, "_popup": "1", "_to_field": "id"})

    html = response.content.decode()
    assert [c.pk for c in response.context["cl"].result_list] == [card.pk]
    assert response.context["cl"].query == ""
    assert not holds_code(html)


def test_an_unknown_code_by_get_lists_nothing_and_echoes_nothing(manager, card):
    response = manager.get(reverse(CARDS), {"q": "NOPE-NOPE-NOPE-NOPE", "o": "2"})

    html = response.content.decode()
    assert response.status_code == 200
    assert list(response.context["cl"].result_list) == []
    assert "NOPE" not in html
    assert [str(m) for m in response.context["messages"]] == [NO_MATCH]


def test_the_export_link_never_carries_a_code(manager, card, superuser, login, other_tenant, actor):
    from giftcards import services

    services.card_issue(tenant=other_tenant, actor=actor, balance_cents=100, code=CODE)
    # A superuser sees the code in two businesses: the list stays a list, by card ids.
    response = login(superuser).get(reverse(CARDS), {"q": CODE})

    html = response.content.decode()
    assert len(response.context["cl"].result_list) == 2
    assert "export/?id__in=" in html
    assert not holds_code(html)


# ---------------------------------------------------------------------------- the ledger


def test_posting_a_code_to_the_ledger_lists_that_cards_rows(manager, card, make_card, actor):
    from giftcards import services

    services.card_debit(card=card, amount_cents=100, actor=actor)
    make_card(code="OTHE-RCAR-DXXX-0001")

    response = manager.post(find_url("balancelog"), {"q": CODE.lower()}, follow=True)

    location = response.redirect_chain[0][0]
    assert location == f"{reverse(LEDGER)}?card__in={card.pk}"
    assert not holds_code(location)
    assert {e.pk for e in response.context["cl"].result_list} == set(
        BalanceLog.objects.filter(card=card).values_list("pk", flat=True)
    )
    assert not holds_code(response.content.decode())


def test_the_ledger_search_box_posts_and_other_terms_stay_a_search(manager, card):
    html = manager.get(reverse(LEDGER)).content.decode()
    response = manager.post(find_url("balancelog"), {"q": "7Q2W"})

    assert f'method="post" action="{find_url("balancelog")}"' in html
    assert response["Location"] == f"{reverse(LEDGER)}?q=7Q2W"


def test_a_code_by_get_on_the_ledger_is_swapped_for_the_card(manager, card):
    response = manager.get(reverse(LEDGER), {"q": CODE})

    html = response.content.decode()
    assert [e.card_id for e in response.context["cl"].result_list] == [card.pk]
    assert response.context["cl"].query == ""
    assert not holds_code(html)


def test_an_unknown_code_posted_to_the_ledger_gets_the_generic_message(manager, card):
    response = manager.post(find_url("balancelog"), {"q": "NOPE-NOPE-NOPE-NOPE"}, follow=True)

    assert response.redirect_chain[0][0] == reverse(LEDGER)
    assert [str(m) for m in response.context["messages"]] == [NO_MATCH]


# ---------------------------------------------------------------------------- NUL characters


def test_nul_characters_in_the_find_view_are_dropped(manager, card):
    response = manager.post(find_url(), {"q": "find\x00-meco-deaa-7q2w"})

    assert response["Location"] == change_url(card)
