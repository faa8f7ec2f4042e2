"""A card with a recipient is e-mailed to them when it is activated: once per activation,
recorded on the card, sent again when a manager asks; its code in the message only."""

from __future__ import annotations

import logging

import pytest
from django.core import mail

from giftcards import exceptions, services
from giftcards.events import mail as card_mail
from giftcards.events import work
from giftcards.models import CardEmail, Status


def test_activating_a_card_emails_it_to_its_recipient_once(make_card, actor, business):
    card = make_card(status=Status.INACTIVE, balance_cents=4_000, recipient_email="ann@example.com")
    work.drain()
    assert mail.outbox == []  # not active yet

    services.card_activate(card=card, actor=actor)
    work.drain()
    work.drain()
    assert len(mail.outbox) == 1
    message = mail.outbox[0]
    assert message.to == ["ann@example.com"]
    assert business.name in message.subject
    assert card.code in message.body
    assert "$40.00" in message.body
    html = message.alternatives[0][0]
    assert card.code in html and "$40.00" in html
    sent = CardEmail.objects.get()
    assert (sent.card_id, sent.state, sent.requested_by) == (card.pk, "sent", "activation")
    assert sent.event.name == "gift_cards.activate"


def test_each_activation_sends_it_again(make_card, actor):
    card = make_card(status=Status.ACTIVE, recipient_email="ann@example.com")
    services.card_deactivate(card=card, actor=actor)
    services.card_activate(card=card, actor=actor)
    work.drain()
    assert len(mail.outbox) == 2
    assert CardEmail.objects.filter(state="sent").count() == 2


def test_the_expiry_is_shown_in_the_business_time_zone(make_card, business):
    import datetime as dt

    business.timezone = "Asia/Tokyo"
    business.save()
    expires = dt.datetime(2031, 3, 31, 16, 0, tzinfo=dt.UTC)  # 1 April, 01:00 in Tokyo
    make_card(status=Status.ACTIVE, recipient_email="ann@example.com", expires_at=expires)
    work.drain()
    assert "1 April 2031" in mail.outbox[0].body


def test_a_card_without_a_recipient_is_not_emailed(make_card):
    make_card(status=Status.ACTIVE)
    work.drain()
    assert mail.outbox == []
    assert CardEmail.objects.count() == 0


def test_a_card_deactivated_before_its_turn_is_not_sent(make_card, actor):
    card = make_card(status=Status.ACTIVE, recipient_email="ann@example.com")
    services.card_deactivate(card=card, actor=actor)
    work.drain()
    assert mail.outbox == []
    skipped = CardEmail.objects.get()
    assert (skipped.state, skipped.last_error) == ("failed", "Not sent: the card is inactive.")


def test_a_manager_can_send_it_again(make_card, actor, tenant):
    card = make_card(status=Status.ACTIVE, recipient_email="ann@example.com")
    work.drain()
    again = card_mail.card_email_resend(card=card.pk, actor=actor, tenant=tenant)
    assert again.requested_by == actor.name
    work.drain()
    assert len(mail.outbox) == 2


def test_resending_needs_a_recipient_and_an_active_card(make_card, actor, tenant):
    lonely = make_card(status=Status.ACTIVE)
    with pytest.raises(exceptions.GiftCardError, match="no recipient"):
        card_mail.card_email_resend(card=lonely.pk, actor=actor, tenant=tenant)
    inactive = make_card(status=Status.INACTIVE, recipient_email="ann@example.com")
    with pytest.raises(exceptions.CardNotActive):
        card_mail.card_email_resend(card=inactive.pk, actor=actor, tenant=tenant)


def test_another_tenants_card_cannot_be_resent(make_card, actor, other_business):
    from clients.tenancy import Mode, Tenant

    card = make_card(status=Status.ACTIVE, recipient_email="ann@example.com")
    with pytest.raises(exceptions.CardNotFound):
        card_mail.card_email_resend(
            card=card.pk, actor=actor, tenant=Tenant(business=other_business, mode=Mode.LIVE)
        )


def test_a_failing_mail_server_is_retried_and_never_logs_the_code(make_card, settings, caplog):
    settings.EMAIL_BACKEND = "tests.giftcards.events.test_mail.RefusingBackend"
    card = make_card(status=Status.ACTIVE, recipient_email="ann@example.com")
    with caplog.at_level(logging.DEBUG):
        work.drain()
    pending = CardEmail.objects.get()
    assert (pending.state, pending.attempts) == ("pending", 1)
    assert pending.last_error == "ConnectionRefusedError: [Errno 111] Connection refused"
    assert "Could not e-mail card" in caplog.text
    assert card.code not in caplog.text
    assert "ann@example.com" not in caplog.text  # masked: a***@example.com

    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    CardEmail.objects.update(next_attempt_at=pending.created_at)
    with caplog.at_level(logging.DEBUG):
        work.drain()
    assert CardEmail.objects.get().state == "sent"
    assert card.code not in caplog.text


class RefusingBackend:
    def __init__(self, *args, **kwargs):
        pass

    def send_messages(self, messages):
        raise ConnectionRefusedError(111, "Connection refused")
