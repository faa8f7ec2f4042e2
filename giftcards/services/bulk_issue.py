"""Issuing a batch of alike cards (a printed holiday run): all of them or none, each one
through `card_issue`, so a batch card is issued exactly as a single sale is."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from django.db import transaction

from clients.tenancy import Actor, Tenant
from giftcards import exceptions
from giftcards.models import GiftCard, Market, Status, Tag
from giftcards.services.issuing import card_issue

MAX_BATCH = 1000
# "XMAS-0001" .. "XMAS-1000": wide enough for the largest batch, so references sort.
REFERENCE_DIGITS = len(str(MAX_BATCH))
REFERENCE_MAX_LENGTH = GiftCard._meta.get_field("reference").max_length
REFERENCE_PREFIX_MAX_LENGTH = REFERENCE_MAX_LENGTH - REFERENCE_DIGITS


def batch_reference(prefix: str, number: int) -> str:
    """The reference of the `number`th card (from 1) of a batch; blank without a prefix."""
    return f"{prefix}{number:0{REFERENCE_DIGITS}d}" if prefix else ""


def cards_issue_many(
    *,
    tenant: Tenant,
    actor: Actor,
    count: int,
    balance_cents: int,
    currency_code: str | None = None,
    status: str = Status.DRAFT,
    expires_at: datetime | None = None,
    market: Market | None = None,
    tags: Iterable[Tag] = (),
    reference_prefix: str = "",
) -> list[GiftCard]:
    """Issue `count` cards with generated codes, each with its own `issue` ledger row and
    events, in one transaction; returned in issue order.

    With a `reference_prefix`, the cards are referenced `<prefix>0001`, `<prefix>0002`, ...
    Raises InvalidValue (a count outside 1..MAX_BATCH, a prefix too long for a reference) and
    whatever `card_issue` raises (InvalidAmount, InvalidCurrency, CurrencyMismatch,
    IllegalTransition, InvalidValue, GiftCardError for another tenant's market or tag); on
    any error no card of the batch is issued.
    """
    if isinstance(count, bool) or not isinstance(count, int) or not 1 <= count <= MAX_BATCH:
        raise exceptions.InvalidValue(
            f"A batch holds from 1 to {MAX_BATCH} cards.", subject="count"
        )
    if len(reference_prefix) > REFERENCE_PREFIX_MAX_LENGTH:
        raise exceptions.InvalidValue(
            f"A reference prefix has at most {REFERENCE_PREFIX_MAX_LENGTH} characters.",
            subject="reference",
        )
    tags = list(tags)
    with transaction.atomic():
        return [
            card_issue(
                tenant=tenant,
                actor=actor,
                balance_cents=balance_cents,
                currency_code=currency_code,
                status=status,
                expires_at=expires_at,
                market=market,
                tags=tags,
                reference=batch_reference(reference_prefix, number),
            )
            for number in range(1, count + 1)
        ]
