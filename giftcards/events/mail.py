"""The first internal consumer of events: a card, once activated, is e-mailed to its
recipient (code, balance, expiry, the business's name), once per activation, and again when
a manager asks (`card_email_resend`). Each e-mail is a `CardEmail` row on the card: pending,
sent or given up, with its last error.

Sending happens outside any transaction under a lease (giftcards.events.leases), through
Django's mail backend (the console in development, SMTP in production). A card that is no
longer active and undeleted when its turn comes is not sent. The code is in the message
only: never in a log line, an error or the row.
"""

from __future__ import annotations

import logging
from datetime import timedelta

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.db import transaction
from django.template.loader import render_to_string
from django.utils import timezone

from clients.tenancy import Actor, Tenant
from giftcards import codes, exceptions, money
from giftcards.events import delivery, engine, leases
from giftcards.models import CardEmail, GiftCard, Status

RETRY_FOR = timedelta(hours=24)
logger = logging.getLogger(__name__)

State = CardEmail.State


def _masked_email(address: str) -> str:
    local, _, domain = address.partition("@")
    return f"{local[:1]}***@{domain}"


def message(card: GiftCard, to: str) -> EmailMultiAlternatives:
    business = card.business
    context = {
        "business": business.name,
        "code": codes.decrypt(card.code_encrypted),
        "balance": money.format_cents(card.balance_cents, card.currency_code, business.locale),
        "expires_on": card.expires_at.astimezone(business.tzinfo).date()
        if card.expires_at
        else None,
        "balance_url": f"{settings.SITE_URL}/balance?business={business.pk}",
    }
    subject = f"Your {business.name} gift card"
    text = render_to_string("giftcards/email/card.txt", context)
    html = render_to_string("giftcards/email/card.html", context)
    email = EmailMultiAlternatives(subject, text, settings.DEFAULT_FROM_EMAIL, [to])
    email.attach_alternative(html, "text/html")
    return email


def send(email_id: int, token: str) -> str:
    """Send one card e-mail leased under `token`: `stale`, `sent`, `skipped` (the card is
    not active any more), `retry` or `failed` (gave up)."""
    card_email = (
        CardEmail.objects.select_related("card", "card__business")
        .filter(pk=email_id, lease_token=token, state=State.PENDING)
        .first()
    )
    if card_email is None:
        return "stale"
    now = timezone.now()
    token = leases.take(CardEmail, card_email.pk, token, now)
    if token is None:
        return "stale"
    card = card_email.card
    if card.is_deleted or card.status != Status.ACTIVE:
        leases.release(
            CardEmail,
            card_email.pk,
            token,
            state=State.FAILED,
            last_error=f"Not sent: the card is {'deleted' if card.is_deleted else card.status}.",
        )
        return "skipped"
    try:
        message(card, card_email.email).send()
    except Exception as exc:  # the backend's failure: SMTP, DNS, a template
        # The exception's type and text only: neither carries the message, nor the code.
        error = f"{type(exc).__name__}: {exc}"[:1000]
        first_failed = card_email.first_failed_at or now
        attempts = card_email.attempts + 1
        logger.warning(
            "Could not e-mail card %s to %s (attempt %s): %s",
            card.masked_code,
            _masked_email(card_email.email),
            attempts,
            error,
        )
        if now - first_failed >= RETRY_FOR:
            fields = {"state": State.FAILED}
        else:
            # The webhooks' backoff: the same mail server outage, the same patience.
            fields = {"next_attempt_at": now + delivery.retry_delay(attempts)}
        leases.release(
            CardEmail,
            card_email.pk,
            token,
            first_failed_at=first_failed,
            last_error=error,
            **fields,
        )
        return "failed" if fields.get("state") == State.FAILED else "retry"
    leases.release(CardEmail, card_email.pk, token, state=State.SENT, sent_at=timezone.now())
    logger.info("E-mailed card %s to %s.", card.masked_code, _masked_email(card_email.email))
    return "sent"


def card_email_resend(*, card: GiftCard | str, actor: Actor, tenant: Tenant | None = None):
    """Queue the card's e-mail to its recipient again (a manager's request). Raises
    CardNotFound, GiftCardError when the card has no recipient or is not active."""
    queryset = GiftCard.objects.select_related("recipient")
    if tenant is not None:
        queryset = queryset.for_tenant(tenant)
    card = queryset.filter(pk=card if isinstance(card, str) else card.pk).first()
    if card is None:
        raise exceptions.CardNotFound("No such gift card.")
    if card.recipient_id is None:
        raise exceptions.GiftCardError("The card has no recipient to e-mail.", subject="recipient")
    if card.is_deleted or card.status != Status.ACTIVE:
        raise exceptions.CardNotActive(
            f"Only an active card is e-mailed; this card is "
            f"{'deleted' if card.is_deleted else card.status}."
        )
    with transaction.atomic():
        card_email = CardEmail.objects.create(
            card=card, email=card.recipient.email, requested_by=actor.name
        )
        transaction.on_commit(engine.kick_sweep, robust=True)
    return card_email
