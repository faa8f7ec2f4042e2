"""Balance transfers: money moved from one card to another of the same business, mode and
currency, in one transaction: a `BalanceTransfer` row, a `transfer_out` ledger row on the
source and a `transfer_in` row on the target (a trigger checks that they match it).

Both cards are locked in primary-key order, whichever is the source, so a transfer A -> B and
one B -> A wait for each other instead of deadlocking. The source must be able to be debited
(a single-use source is redeemed by it), the target able to be recharged.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from django.db import IntegrityError, transaction

from clients.tenancy import Actor, Tenant
from giftcards import exceptions
from giftcards.events import outbox
from giftcards.models import BalanceLog, BalanceTransfer, GiftCard, Status
from giftcards.services import balances, checks
from giftcards.services.door import lock_cards
from giftcards_project.observability import metrics

Kind = BalanceLog.Kind
# Refusals about one card, not the amount: they name the card's side of the transfer.
CARD_SUBJECTS = frozenset({"status", "balance_cents", "expires_at", "deleted_at", "rechargeable"})


@dataclass(frozen=True)
class TransferResult:
    """The transfer and both cards after it; `replayed` when an idempotency key matched an
    earlier transfer and nothing moved."""

    transfer: BalanceTransfer
    source: GiftCard
    target: GiftCard
    replayed: bool = False


def _card_id(card: GiftCard | str) -> str:
    return card.pk if isinstance(card, GiftCard) else card


def _side(side: str, check, *args, **kwargs) -> None:
    """Run a check of one card, naming that card in what it refuses."""
    try:
        check(*args, **kwargs)
    except exceptions.GiftCardError as exc:
        if exc.subject in CARD_SUBJECTS:
            exc.subject = side
        message = exc.message
        exc.message = f"The {side} card cannot take part: {message[:1].lower()}{message[1:]}"
        raise


def _lock_both(
    source_id: str, target_id: str, tenant: Tenant, visible: bool
) -> tuple[GiftCard, GiftCard]:
    try:
        pair = lock_cards([source_id, target_id], tenant=tenant, visible=visible)
        locked = {card.pk: card for card in pair}
    except exceptions.CardNotFound:
        # Which one: a second, scoped look (on this path only).
        cards = GiftCard.objects.for_tenant(tenant).filter(pk__in=[source_id, target_id])
        if visible:
            cards = cards.not_deleted()
        found = set(cards.values_list("pk", flat=True))
        side = "source" if source_id not in found else "target"
        raise exceptions.CardNotFound(f"No {side} gift card with this id.", subject=side) from None
    return locked[source_id], locked[target_id]


def _replay(
    tenant: Tenant, key: str | None, source_id: str, target_id: str, amount_cents: int
) -> BalanceTransfer | None:
    """The transfer an earlier request made with `key` (under the cards' locks, or after a
    conflict on the key), if it asked the same; else an IdempotencyConflict."""
    if not key:
        return None
    earlier = BalanceTransfer.objects.for_tenant(tenant).filter(idempotency_key=key).first()
    if earlier is None:
        return None
    if (earlier.source_id, earlier.target_id, earlier.amount_cents) != (
        source_id,
        target_id,
        amount_cents,
    ):
        raise exceptions.IdempotencyConflict(
            "This Idempotency-Key was already used for a different transfer.", key=key
        )
    return earlier


def _create(**fields) -> BalanceTransfer:
    """The transfer row. Its key is unique per tenant: the same key sent at once for another
    pair of cards (whose locks do not meet) loses here, and is told so."""
    try:
        with transaction.atomic():
            return BalanceTransfer.objects.create(**fields)
    except IntegrityError:
        raise exceptions.IdempotencyConflict(
            "This Idempotency-Key was already used for a different transfer.",
            key=fields["idempotency_key"],
        ) from None


@metrics.counts_refusals("transfer")
def card_transfer(
    *,
    tenant: Tenant,
    actor: Actor,
    source: GiftCard | str,
    target: GiftCard | str,
    amount_cents: int,
    reference: str = "",
    reference_origin: str = "",
    metadata: Mapping[str, Any] | None = None,
    note: str = "",
    idempotency_key: str | None = None,
    visible: bool = False,
) -> TransferResult:
    """Move `amount_cents` (> 0) from `source` to `target`, both cards of `tenant`.

    Raises InvalidAmount, SameCard, CardNotFound (subject `source` or `target`; a card of
    another business or mode is not found), CardNotActive, CardExpired, CardDeleted,
    NotRechargeable (their subject `source` or `target`), CurrencyMismatch (subject
    `target`), InsufficientBalance, BalanceMaxExceeded, IdempotencyConflict. With `visible`,
    a soft-deleted card is not found (the JSON:API hides them). On any error nothing is
    written.
    """
    checks.require_positive_cents(amount_cents)
    source_id, target_id = _card_id(source), _card_id(target)
    if source_id == target_id:
        raise exceptions.SameCard("A card cannot transfer to itself: choose another target.")
    checks.require_storable_json(metadata or {}, "metadata")
    with transaction.atomic(), outbox.batched():
        giver, taker = _lock_both(source_id, target_id, tenant, visible)
        earlier = _replay(tenant, idempotency_key, source_id, target_id, amount_cents)
        if earlier is not None:
            return TransferResult(earlier, giver, taker, replayed=True)
        _side("source", balances.check_spendable, giver, amount_cents, spend="transferred")
        if taker.currency_code != giver.currency_code:
            raise exceptions.CurrencyMismatch(
                f"The source card is in {giver.currency_code} and the target card in "
                f"{taker.currency_code}: a transfer stays in one currency.",
                subject="target",
            )
        _side("target", balances.check_receivable, taker, amount_cents, receive="credited")
        moved = _create(
            business_id=tenant.business.pk,
            mode=tenant.mode,
            source=giver,
            target=taker,
            amount_cents=amount_cents,
            currency_code=giver.currency_code,
            reference=reference or "",
            reference_origin=reference_origin or "",
            metadata=dict(metadata or {}),
            note=note or "",
            idempotency_key=idempotency_key or None,
            actor_name=actor.name,
            user=actor.user,
            api_key=actor.api_key,
        )
        note = note or f"Transfer {moved.pk}"
        balances.post(
            giver,
            kind=Kind.TRANSFER_OUT,
            amount_cents=-amount_cents,
            actor=actor,
            new_status=balances.spent_status(giver, amount_cents),
            note=note,
            transfer=moved,
        )
        balances.post(
            taker,
            kind=Kind.TRANSFER_IN,
            amount_cents=amount_cents,
            actor=actor,
            new_status=Status.ACTIVE,
            note=note,
            transfer=moved,
        )
        for card in (giver, taker):
            balances.save(card, balances.BALANCE_FIELDS)
    return TransferResult(moved, giver, taker)
