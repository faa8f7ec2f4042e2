"""Deactivate, Delete and Adjust on a card's page ask first: a POST without the confirmation
shows what will change and writes nothing; only the confirmed POST (with its CSRF token) runs
the service. A GET of their URLs ignores its query, so a link cannot fill in a confirmation."""

from __future__ import annotations

import html
import re

import pytest
from django.contrib.admin.models import LogEntry
from django.contrib.admin.utils import quote
from django.test import Client as HttpClient
from django.urls import reverse
from django.utils.html import strip_tags

from giftcards import services
from giftcards.models import BalanceLog, GiftCard, Status

ASKING = {
    "deactivate": {},
    "delete": {},
    "adjust": {"new_balance": "35", "reason": "Till miscount on 3 May"},
}


def act_url(card, action):
    return reverse("admin:giftcards_giftcard_act", args=[quote(card.pk), action])


def change_url(card):
    return reverse("admin:giftcards_giftcard_change", args=[quote(card.pk)])


def snapshot(card) -> dict:
    return GiftCard.objects.filter(pk=card.pk).values().get()


def text_of(response) -> str:
    """The page as read: tags dropped, entities decoded, runs of white space made one."""
    return " ".join(html.unescape(strip_tags(response.content.decode())).split())


def confirmation_of(response) -> dict:
    """What the confirmation page's form posts when Confirm is pressed."""
    return {**dict(response.context["hidden"]), "seen": response.context["seen"], "confirm": "yes"}


def submitted(response, url: str) -> dict:
    """What pressing the submit button of the page's form posting to `url` posts: its inputs
    as filled."""
    forms = re.findall(
        rf'<form\b[^>]*action="{re.escape(url)}".*?</form>', response.content.decode(), re.S
    )
    assert len(forms) == 1
    inputs = re.findall(r"<input\b[^>]*>", forms[0])
    attrs = [dict(re.findall(r'(\w+)="([^"]*)"', tag)) for tag in inputs]
    return {
        a["name"]: html.unescape(a.get("value", ""))
        for a in attrs
        if "name" in a and a.get("type") != "submit"
    }


# What a crafted link would put in the query of an action's URL.
CRAFTED = {
    "new_balance": "0",
    "reason": "Manager approved",
    "idempotency_key": "admin-crafted-link",
    "confirm": "yes",
}


@pytest.fixture
def manager(make_staff):
    return make_staff("manager")


@pytest.mark.parametrize("action", list(ASKING))
def test_the_first_post_changes_nothing_and_asks(action, manager, login, make_card):
    card = make_card(balance_cents=4_000, code="CONF-IRMM-EPLE-PQ77")
    before, versions = snapshot(card), card.versions.count()
    client = login(manager)

    response = client.post(act_url(card, action), ASKING[action])

    assert response.status_code == 200
    assert snapshot(card) == before
    assert list(card.ledger.values_list("kind", flat=True)) == ["issue"]
    assert card.versions.count() == versions
    assert not LogEntry.objects.filter(object_id=card.pk).exists()
    assert response.templates[0].name == "admin/giftcards/giftcard/confirm_action.html"
    page = text_of(response)
    assert "****PQ77" in page and "CONF-IRMM" not in page
    assert 'name="confirm" value="yes"' in response.content.decode()
    assert "csrfmiddlewaretoken" in response.content.decode()
    assert f'href="{change_url(card)}" class="button cancel-link">Cancel' in (
        response.content.decode()
    )


@pytest.mark.parametrize(
    ("action", "named"),
    [
        ("deactivate", "Status Active → Inactive"),
        ("delete", "Status Active → Deleted · Active"),
        ("adjust", "Balance $40.00 → $35.00"),
    ],
)
def test_the_confirmation_page_names_the_change(action, named, manager, login, make_card):
    card = make_card(balance_cents=4_000, code="CONF-IRMM-EPLE-PQ77")

    response = login(manager).post(act_url(card, action), ASKING[action])

    page = text_of(response)
    assert named in page
    assert "Currency: USD" in page
    if action == "adjust":
        assert "Status Active → Active (unchanged)" in page
        assert "Reason: Till miscount on 3 May" in page


@pytest.mark.parametrize(
    ("action", "changed"),
    [
        ("deactivate", lambda card: card.status == Status.INACTIVE),
        ("delete", lambda card: card.is_deleted),
        ("adjust", lambda card: card.balance_cents == 3_500),
    ],
)
def test_confirming_changes_it_through_the_service(action, changed, manager, login, make_card):
    card = make_card(balance_cents=4_000)
    client = login(manager)
    asked = client.post(act_url(card, action), ASKING[action])

    response = client.post(act_url(card, action), confirmation_of(asked), follow=True)

    assert response.redirect_chain == [(change_url(card), 302)]
    card = GiftCard.objects.get(pk=card.pk)
    assert changed(card)
    assert card.modified_by == manager.username
    assert card.versions.filter(history_user=manager).count() == 1
    assert [m.level_tag for m in response.context["messages"]] == ["success"]


def test_a_confirmed_adjustment_writes_the_services_ledger_row(manager, login, make_card):
    card = make_card(balance_cents=4_000)
    client = login(manager)
    asked = client.post(act_url(card, "adjust"), ASKING["adjust"])

    client.post(act_url(card, "adjust"), confirmation_of(asked))

    row = card.ledger.get(kind="adjustment")
    assert (row.amount_cents, row.balance_after_cents, row.note, row.user_id) == (
        -500,
        3_500,
        "Till miscount on 3 May",
        manager.pk,
    )


def test_a_confirmation_sent_twice_adjusts_once(manager, login, make_card):
    card = make_card(balance_cents=4_000)
    client = login(manager)
    confirmation = confirmation_of(client.post(act_url(card, "adjust"), ASKING["adjust"]))

    client.post(act_url(card, "adjust"), confirmation)
    client.post(act_url(card, "adjust"), confirmation)

    assert card.ledger.filter(kind="adjustment").count() == 1


def test_confirming_without_the_csrf_token_is_refused(manager, make_card):
    card = make_card()
    client = HttpClient(enforce_csrf_checks=True)
    client.force_login(manager)
    before = snapshot(card)
    seen = services.card_version(card)

    response = client.post(act_url(card, "delete"), {"confirm": "yes", "seen": seen})

    assert response.status_code == 403
    assert snapshot(card) == before


def test_the_confirm_page_posts_with_the_csrf_token(manager, make_card):
    card = make_card()
    client = HttpClient(enforce_csrf_checks=True)
    client.force_login(manager)
    token = client.get(change_url(card)).context["csrf_token"]
    asked = client.post(act_url(card, "deactivate"), {"csrfmiddlewaretoken": token})
    assert asked.status_code == 200

    client.post(
        act_url(card, "deactivate"), {**confirmation_of(asked), "csrfmiddlewaretoken": token}
    )

    assert GiftCard.objects.get(pk=card.pk).status == Status.INACTIVE


def test_a_card_changed_since_the_page_is_asked_about_again(manager, login, make_card, actor):
    card = make_card(balance_cents=4_000)
    client = login(manager)
    asked = client.post(act_url(card, "adjust"), ASKING["adjust"])
    services.card_debit(card=card, amount_cents=1_000, actor=actor)  # at a till meanwhile

    response = client.post(act_url(card, "adjust"), confirmation_of(asked))

    assert response.status_code == 200
    assert "changed since the confirmation was shown" in text_of(response)
    assert "Balance $30.00 → $35.00" in text_of(response)
    assert not card.ledger.filter(kind="adjustment").exists()
    client.post(act_url(card, "adjust"), confirmation_of(response))
    assert GiftCard.objects.get(pk=card.pk).balance_cents == 3_500


def test_an_action_that_no_longer_applies_is_not_offered_for_confirmation(
    manager, login, make_card, actor
):
    card = make_card()
    services.card_deactivate(card=card, actor=actor)
    before = snapshot(card)

    response = login(manager).post(act_url(card, "deactivate"), follow=True)

    assert response.redirect_chain == [(change_url(card), 302)]
    assert snapshot(card) == before
    errors = [str(m) for m in response.context["messages"] if m.level_tag == "error"]
    assert errors == [
        "Deactivate does not apply to this card now (it is Inactive). Nothing was changed."
    ]


def test_a_bad_adjustment_is_refused_before_any_confirmation(manager, login, make_card):
    card = make_card()

    response = login(manager).post(act_url(card, "adjust"), {"new_balance": "abc"}, follow=True)

    assert response.redirect_chain == [(change_url(card), 302)]
    assert not BalanceLog.objects.filter(card=card, kind="adjustment").exists()


@pytest.mark.parametrize("method", ["get", "post"])
def test_a_cashier_cannot_open_the_adjust_confirmation(method, make_staff, login, make_card):
    card = make_card()

    client = login(make_staff("cashier"))
    response = getattr(client, method)(act_url(card, "adjust"), ASKING["adjust"])

    assert response.status_code == 403


# ---------------------------------------------------------------------------- crafted links


@pytest.mark.parametrize("action", list(ASKING))
def test_a_link_with_query_data_opens_no_confirmation(action, manager, login, make_card):
    card = make_card(balance_cents=4_000)
    before = snapshot(card)
    seen = services.card_version(card)

    response = login(manager).get(act_url(card, action), {**CRAFTED, "seen": seen}, follow=True)

    assert "admin/giftcards/giftcard/confirm_action.html" not in [
        t.name for t in response.templates
    ]
    assert "Manager approved" not in response.content.decode()
    assert "admin-crafted-link" not in response.content.decode()
    assert snapshot(card) == before
    if action == "adjust":
        assert response.redirect_chain == []
        assert response.templates[0].name == "admin/giftcards/giftcard/action_form.html"
    else:
        assert response.redirect_chain == [(change_url(card), 302)]


def test_pressing_the_button_a_crafted_adjust_link_shows_adjusts_nothing(manager, login, make_card):
    card = make_card(balance_cents=4_000)
    client = login(manager)
    page = client.get(act_url(card, "adjust"), CRAFTED)

    pressed = client.post(
        act_url(card, "adjust"), submitted(page, act_url(card, "adjust")), follow=True
    )

    assert pressed.redirect_chain == [(change_url(card), 302)]
    assert [m.level_tag for m in pressed.context["messages"]] == ["error", "error"]
    assert GiftCard.objects.get(pk=card.pk).balance_cents == 4_000
    assert not card.ledger.filter(kind="adjustment").exists()


def test_the_adjust_page_a_get_shows_asks_before_it_adjusts(manager, login, make_card):
    card = make_card(balance_cents=4_000)
    client = login(manager)
    filled = {
        **submitted(client.get(act_url(card, "adjust")), act_url(card, "adjust")),
        **ASKING["adjust"],
    }

    asked = client.post(act_url(card, "adjust"), filled)

    assert asked.templates[0].name == "admin/giftcards/giftcard/confirm_action.html"
    assert "Balance $40.00 → $35.00" in text_of(asked)
    assert GiftCard.objects.get(pk=card.pk).balance_cents == 4_000
    client.post(act_url(card, "adjust"), confirmation_of(asked))
    assert GiftCard.objects.get(pk=card.pk).balance_cents == 3_500


def test_actions_that_take_nothing_away_run_on_their_first_post(manager, login, make_card, actor):
    card = make_card()
    services.card_deactivate(card=card, actor=actor)

    login(manager).post(act_url(card, "activate"))

    assert GiftCard.objects.get(pk=card.pk).status == Status.ACTIVE


def test_the_card_page_actions_post_to_the_confirming_view(manager, login, make_card):
    card = make_card()

    page = login(manager).get(change_url(card)).content.decode()

    for action in ASKING:
        assert f'action="{act_url(card, action)}"' in page
