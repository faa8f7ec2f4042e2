"""Issuing a card: the card row, its `issue` ledger row and its tags, in one transaction."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from django.db import IntegrityError, transaction
from django.utils import timezone

from clients.models import Client
from clients.tenancy import Actor, Tenant
from giftcards import codes, exceptions, money
from giftcards.events import outbox, topics
from giftcards.models import BalanceLog, GiftCard, GiftCardRecipient, Market, Status, Tag
from giftcards.services import checks
from giftcards.services.cards import recipient_find_or_create
from giftcards_project.observability import metrics

Kind = BalanceLog.Kind
ISSUABLE_STATUSES = frozenset({Status.DRAFT, Status.INACTIVE, Status.ACTIVE})
CODE_TAKEN = "This business already has a card with that code."


def _code_taken(tenant: Tenant, hashes: list[str]) -> bool:
    return GiftCard.objects.filter(business=tenant.business, code_hash__in=hashes).exists()


def _resolve_currency(tenant: Tenant, currency_code: str | None, market: Market | None) -> str:
    if currency_code is None:
        return market.currency_code if market is not None else tenant.business.currency_code
    if not money.is_known_currency(currency_code):
        raise exceptions.InvalidCurrency(f"{currency_code!r} is not an ISO 4217 currency code.")
    if market is not None and market.currency_code != currency_code:
        raise exceptions.CurrencyMismatch(
            f"The market uses {market.currency_code}, not {currency_code}."
        )
    return currency_code


def _issue_events(card: GiftCard, issue: BalanceLog) -> list[tuple[str, dict]]:
    """A new card is created, gets its first ledger row, and, issued inactive or active, was
    purchased; issued active, activated too."""
    facts = outbox.card_facts(card)
    happened = [
        (topics.CARD_CREATE, facts),
        (topics.CARD_BALANCE_CHANGE, outbox.card_facts(card, **outbox.ledger_entry(issue))),
    ]
    if card.status in (Status.INACTIVE, Status.ACTIVE):
        happened.append((topics.CARD_PURCHASE, facts))
    if card.status == Status.ACTIVE:
        happened.append((topics.CARD_ACTIVATE, facts))
    return happened


def card_issued_with(*, tenant: Tenant, idempotency_key: str | None) -> GiftCard | None:
    """The tenant's card whose issue carried this idempotency key, if any."""
    if not idempotency_key:
        return None
    issued = (
        BalanceLog.objects.filter(
            kind=Kind.ISSUE,
            idempotency_key=idempotency_key,
            card__business=tenant.business,
            card__mode=tenant.mode,
        )
        .select_related("card")
        .first()
    )
    return issued.card if issued is not None else None


@metrics.counts_refusals(Kind.ISSUE)
def card_issue(
    *,
    tenant: Tenant,
    actor: Actor,
    balance_cents: int,
    currency_code: str | None = None,
    code: str | None = None,
    status: str = Status.DRAFT,
    balance_max_cents: int | None = None,
    single_use: bool = False,
    rechargeable: bool = True,
    distribute_discount: bool = True,
    image_url: str = "",
    purchase_date: datetime | None = None,
    expires_at: datetime | None = None,
    reference: str = "",
    reference_origin: str = "",
    metadata: dict | None = None,
    client: Client | None = None,
    recipient: GiftCardRecipient | None = None,
    recipient_email: str | None = None,
    market: Market | None = None,
    tags: Iterable[Tag] = (),
    idempotency_key: str | None = None,
) -> GiftCard:
    """Create a card and its `issue` ledger row.

    `recipient_email` finds the tenant's recipient by email, or creates one. An
    `idempotency_key` goes on the issue row; a card issued before with it is returned instead
    of a new one (a retry whose first request died before its response was stored). Raises
    InvalidAmount, InvalidCurrency, CurrencyMismatch, BalanceMaxExceeded, InvalidCode,
    DuplicateCode, IllegalTransition (a status other than draft, inactive or active),
    InvalidValue (a date outside giftcards/dates.py's range, text no store can hold in
    metadata).
    """
    checks.require_non_negative_cents(balance_cents, "balance_cents")
    if balance_max_cents is not None:
        checks.require_positive_cents(balance_max_cents, "balance_max_cents")
        if balance_cents > balance_max_cents:
            raise exceptions.BalanceMaxExceeded(
                "The balance cannot exceed the card's maximum balance.", subject="balance_cents"
            )
    if status not in ISSUABLE_STATUSES:
        raise exceptions.IllegalTransition(
            f"A new card starts as draft, inactive or active, not {str(status)!r}."
        )
    if metadata is not None and not isinstance(metadata, dict):
        raise exceptions.GiftCardError("Metadata must be a JSON object.", subject="metadata")
    checks.require_storable_json(metadata, "metadata")
    for subject, moment in (("purchase_date", purchase_date), ("expires_at", expires_at)):
        if moment is not None:
            checks.require_accepted_moment(moment, subject)
    issued = card_issued_with(tenant=tenant, idempotency_key=idempotency_key)
    if issued is not None:
        return issued
    with transaction.atomic():
        if recipient_email:
            recipient = recipient_find_or_create(tenant=tenant, email=recipient_email)
        checks.check_same_tenant(
            tenant, client=client, gift_card_recipient=recipient, market=market
        )
        if market is not None:
            # The market's currency, read under a lock that conflicts with market_update's: a
            # currency change in flight is waited for, never read stale (PostgreSQL; SQLite
            # serialises writers anyway). Issues into one market take turns, briefly.
            market = Market.objects.select_for_update(no_key=True).get(pk=market.pk)
        currency_code = _resolve_currency(tenant, currency_code, market)

        if code is None:
            chosen = False
            code = codes.generate()
        else:
            chosen = True
            try:
                codes.validate(code)
            except codes.InvalidCode as exc:
                raise exceptions.InvalidCode(str(exc)) from exc

        tags = list(tags)
        for tag in tags:
            checks.check_same_tenant(tenant, tag=tag)

        now = timezone.now()
        if status != Status.DRAFT and purchase_date is None:
            purchase_date = now
        for _attempt in range(5):
            hashes = codes.lookup_hashes(code)
            if len(hashes) > 1 and _code_taken(tenant, hashes[1:]):
                # The unique constraint compares current-key hashes only: while old keys are
                # configured, a card still stored under one is found by its old hash.
                if chosen:
                    raise exceptions.DuplicateCode(CODE_TAKEN)
                code = codes.generate()
                continue
            card = GiftCard(
                business=tenant.business,
                mode=tenant.mode,
                code_hash=hashes[0],
                code_encrypted=codes.encrypt(code),
                code_last4=codes.last4(code),
                status=status,
                currency_code=currency_code,
                initial_balance_cents=balance_cents,
                balance_cents=balance_cents,
                balance_max_cents=balance_max_cents,
                single_use=single_use,
                rechargeable=rechargeable,
                distribute_discount=distribute_discount,
                image_url=image_url,
                purchase_date=purchase_date,
                expires_at=expires_at,
                reference=reference,
                reference_origin=reference_origin,
                metadata=metadata if metadata is not None else {},
                client=client,
                recipient=recipient,
                market=market,
                created_at=now,
                updated_at=now,
                created_by=actor.name,
                modified_by=actor.name,
            )
            try:
                with transaction.atomic():
                    card.save(force_insert=True)
                    issue = BalanceLog.objects.create(
                        card=card,
                        kind=Kind.ISSUE,
                        amount_cents=balance_cents,
                        balance_after_cents=balance_cents,
                        actor_name=actor.name,
                        user=actor.user,
                        api_key=actor.api_key,
                        idempotency_key=idempotency_key or None,
                        created_at=now,
                    )
                    metrics.money_moved([Kind.ISSUE])
                    if tags:
                        card.tags.add(*tags)
                    outbox.record(card, *_issue_events(card, issue))
                return card
            except IntegrityError:
                if not _code_taken(tenant, hashes):
                    raise
                if chosen:
                    raise exceptions.DuplicateCode(CODE_TAKEN) from None
                code = codes.generate()  # a generated code collided: draw another
        raise exceptions.DuplicateCode("Could not draw an unused code.")
