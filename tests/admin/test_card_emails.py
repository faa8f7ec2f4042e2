"""A card's e-mails on its page, and a manager's "Send the card to its recipient again": one
call of card_email_resend, a refusal shown with its reason and nothing written, the code
never on the page."""

from __future__ import annotations

import pytest
from django.contrib.admin.models import LogEntry
from django.contrib.admin.utils import quote
from django.core import mail
from django.urls import reverse

from giftcards import services
from giftcards.events import work
from giftcards.models import CardEmail, Status

LABEL = "Send the card to its recipient again"


@pytest.fixture
def manager(make_staff):
    return make_staff("manager")


@pytest.fixture
def card(make_card):
    """Active, with a recipient, and e-mailed once already (its activation)."""
    made = make_card(balance_cents=4_000, recipient_email="ann@example.com")
    work.drain()
    return made


def card_url(name, card, *args):
    return reverse(f"admin:giftcards_giftcard_{name}", args=[quote(card.pk), *args])


def resend(client, card, **extra):
    return client.post(card_url("act", card, "resend_email"), **extra)


def texts(response, level: str) -> list[str]:
    return [str(m) for m in response.context["messages"] if m.level_tag == level]


def test_a_manager_sends_the_card_to_its_recipient_again(manager, login, card):
    assert len(mail.outbox) == 1  # at activation

    response = resend(login(manager), card, follow=True)

    assert response.redirect_chain == [(card_url("change", card), 302)]
    assert texts(response, "success") == [
        "The card will be e-mailed to ann@example.com again within moments."
    ]
    queued = CardEmail.objects.latest("id")
    assert (queued.email, queued.state, queued.requested_by) == (
        "ann@example.com",
        "pending",
        manager.username,
    )
    work.drain()
    assert len(mail.outbox) == 2
    assert mail.outbox[1].to == ["ann@example.com"]
    assert card.code in mail.outbox[1].body  # in the message, and nowhere else
    entry = LogEntry.objects.get()
    assert entry.change_message.startswith(f"{LABEL}: ")
    assert card.code not in entry.change_message


def test_a_card_without_a_recipient_is_refused_with_the_reason(manager, login, make_card):
    card = make_card()

    response = resend(login(manager), card, follow=True)

    assert texts(response, "error") == [
        f"{LABEL} refused: The card has no recipient to e-mail. Nothing was changed."
    ]
    assert not CardEmail.objects.exists()
    assert not LogEntry.objects.exists()
    work.drain()
    assert mail.outbox == []


def test_an_inactive_card_is_refused_with_the_reason(manager, login, card, actor):
    services.card_deactivate(card=card, actor=actor)
    emails = CardEmail.objects.count()

    response = resend(login(manager), card, follow=True)

    assert texts(response, "error") == [
        f"{LABEL} refused: Only an active card is e-mailed; this card is inactive. "
        "Nothing was changed."
    ]
    assert CardEmail.objects.count() == emails


@pytest.mark.parametrize("role", [None, "viewer", "cashier"])
def test_only_managers_send_it_again(role, make_staff, login, card):
    client = login(make_staff(role))

    response = resend(client, card)

    assert response.status_code == 403
    assert CardEmail.objects.count() == 1
    if role is not None:
        page = client.get(card_url("change", card)).content.decode()
        assert 'data-action="resend_email"' not in page
        assert 'data-testid="card-emails"' not in page


def test_another_business_cannot_send_it(make_staff, login, other_business, card):
    b_manager = make_staff("manager", business=other_business, username="b-manager")

    assert resend(login(b_manager), card).status_code == 404
    assert CardEmail.objects.count() == 1


def test_the_button_is_offered_only_where_it_can_work(manager, login, card, make_card):
    client = login(manager)
    without_recipient = make_card()
    inactive = make_card(status=Status.INACTIVE, recipient_email="bob@example.com")

    def offered(target):
        page = client.get(card_url("change", target)).content.decode()
        return 'data-action="resend_email"' in page

    assert offered(card)
    assert not offered(without_recipient)
    assert not offered(inactive)


def test_the_card_page_lists_its_emails_newest_first_without_the_code(
    manager, login, card, actor, tenant
):
    from giftcards.events import mail as card_mail

    card_mail.card_email_resend(card=card, actor=actor, tenant=tenant)
    CardEmail.objects.filter(state="pending").update(state="failed", last_error="SMTPError: 451")

    response = login(manager).get(card_url("change", card))

    html = response.content.decode()
    assert [email.requested_by for email in response.context["card_emails"]] == [
        actor.name,
        "activation",
    ]
    assert 'data-testid="card-emails"' in html
    assert "ann@example.com" in html and "SMTPError: 451" in html
    assert "Failed (gave up)" in html and "Sent" in html
    assert card.code not in html
