"""The checks every balance operation makes, against the locked card."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from django.utils import timezone

from clients.models import Business
from clients.tenancy import Actor, Tenant
from giftcards import dates, exceptions, money, text
from giftcards.models import GiftCard

# What a BigIntegerField holds: a larger amount would fail in the database, as a 500.
MAX_CENTS = 2**63 - 1


def require_positive_cents(amount_cents: Any, subject: str = "amount_cents") -> int:
    if isinstance(amount_cents, bool) or not isinstance(amount_cents, int):
        raise exceptions.InvalidAmount(
            "The amount must be a whole number of cents.", subject=subject
        )
    if amount_cents <= 0:
        raise exceptions.InvalidAmount("The amount must be greater than zero.", subject=subject)
    if amount_cents > MAX_CENTS:
        raise exceptions.InvalidAmount("The amount is too large.", subject=subject)
    return amount_cents


def require_non_negative_cents(value: Any, subject: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise exceptions.InvalidAmount(
            "The amount must be a whole number of cents.", subject=subject
        )
    if value < 0:
        raise exceptions.InvalidAmount("The amount cannot be negative.", subject=subject)
    if value > MAX_CENTS:
        raise exceptions.InvalidAmount("The amount is too large.", subject=subject)
    return value


def to_cents(amount: Decimal, card: GiftCard) -> int:
    """Major units of the card's currency -> cents, exactly (never rounded)."""
    try:
        return money.to_minor(amount, card.currency_code)
    except money.MoneyError as exc:
        raise exceptions.InvalidAmount(str(exc)) from exc


def check_not_deleted(card: GiftCard) -> None:
    if card.is_deleted:
        raise exceptions.CardDeleted(
            f"Gift card {card.masked_code} is deleted; its balance cannot change."
        )


def check_not_expired(card: GiftCard, now: datetime | None = None) -> None:
    if card.is_expired(now or timezone.now()):
        raise exceptions.CardExpired(
            f"Gift card {card.masked_code} expired at {card.expires_at:%Y-%m-%d %H:%M} UTC."
        )


def require_accepted_moment(moment: datetime, subject: str) -> None:
    """Only moments every time zone can show (giftcards/dates.py) are stored."""
    if not dates.in_range(moment):
        raise exceptions.InvalidValue(dates.MESSAGE, subject=subject)


def require_storable_json(value: Any, subject: str) -> None:
    """No NUL and no lone surrogate anywhere in a JSON value (giftcards/text.py): PostgreSQL's
    jsonb refuses them, and the admin's JSON fields decode them from escapes."""
    found = text.find_in_json(value)
    if found is not None:
        raise exceptions.InvalidValue(found[1], subject=subject)


def check_currency(card: GiftCard, currency_code: str | None) -> None:
    if currency_code is not None and currency_code != card.currency_code:
        raise exceptions.CurrencyMismatch(
            f"The card is in {card.currency_code}, not {currency_code}."
        )


def format_amount(card: GiftCard, cents: int) -> str:
    """An amount as people read it in messages: "$10.00", "¥1,000"."""
    return money.format_cents(cents, card.currency_code)


def check_within_max(card: GiftCard, new_balance: int, subject: str = "amount_cents") -> None:
    if new_balance > MAX_CENTS:
        raise exceptions.BalanceMaxExceeded(
            f"The balance would be {format_amount(card, new_balance)}, more than a card can hold.",
            subject=subject,
        )
    if card.balance_max_cents is not None and new_balance > card.balance_max_cents:
        raise exceptions.BalanceMaxExceeded(
            f"The balance would be {format_amount(card, new_balance)}, above the card's maximum "
            f"of {format_amount(card, card.balance_max_cents)}.",
            subject=subject,
        )


def check_same_tenant(tenant: Tenant, **related: Any) -> None:
    for subject, obj in related.items():
        if obj is not None and not obj.belongs_to(tenant):
            raise exceptions.GiftCardError(
                f"That {subject.replace('_', ' ')} does not exist.", subject=subject
            )


def tenant_of(card: GiftCard) -> Tenant:
    """The card's own tenant, by ids (what scoping and ownership checks compare)."""
    return Tenant(business=Business(pk=card.business_id), mode=card.mode)


def touch(card: GiftCard, actor: Actor) -> list[str]:
    """Stamp who changed the card and when; the fields to save with the change."""
    card.updated_at = timezone.now()
    card.modified_by = actor.name
    return ["updated_at", "modified_by"]
