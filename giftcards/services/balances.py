"""Balance operations: debit, recharge and adjustment, each one ledger row (refunds are in
`services.refunds`, transfers in `services.transfers`; they build on these steps).

Each public function opens a transaction, locks the card through the door, and hands the
locked row to a step function (`debit`, `recharge`, ...) that checks everything against it,
writes the ledger row and changes the card in memory; the card is saved once, at the end.
`services.card_change` runs the same steps, several under one lock.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

from django.db import transaction

from clients.tenancy import Actor, Tenant
from giftcards import exceptions
from giftcards.events import outbox, topics
from giftcards.models import BalanceLog, GiftCard, Status
from giftcards.services import checks
from giftcards.services.door import lock_card
from giftcards_project.observability import metrics

Kind = BalanceLog.Kind
BALANCE_FIELDS = ("balance_cents", "status")


@dataclass(frozen=True)
class BalanceChange:
    """What a balance operation did: the card after it and the ledger row it wrote.

    `entry` is None when there was nothing to write (an adjustment to the same balance);
    `replayed` is True when an idempotency key matched an earlier row and nothing moved.
    `entries` holds every row a change set wrote, in order.
    """

    card: GiftCard
    entry: BalanceLog | None
    replayed: bool = False
    entries: tuple[BalanceLog, ...] = field(default=())


def replay(
    card: GiftCard, idempotency_key: str | None, kind: str, **same: Any
) -> BalanceChange | None:
    """The earlier result for this key on this card, if any. Called under the card lock.

    `same` holds the ledger fields that identify the operation (the amount of a debit, the
    target balance of an adjustment, the payment a refund is for); a row with the key but
    other values is a conflict, not a replay.
    """
    if not idempotency_key:
        return None
    entry = card.ledger.filter(idempotency_key=idempotency_key).first()
    if entry is None:
        return None
    if entry.kind != kind or any(getattr(entry, name) != value for name, value in same.items()):
        raise exceptions.IdempotencyConflict(
            "This Idempotency-Key was already used on this card for a different operation "
            f"({entry.kind} of {entry.amount_cents} cents).",
            key=idempotency_key,
        )
    return BalanceChange(card=card, entry=entry, replayed=True, entries=(entry,))


def post(
    card: GiftCard,
    *,
    kind: str,
    amount_cents: int,
    actor: Actor,
    new_status: str | None = None,
    idempotency_key: str | None = None,
    order_reference: str = "",
    note: str = "",
    occurred_at: datetime | None = None,
    refund_of: BalanceLog | None = None,
    transfer=None,
    counted: bool = True,
) -> BalanceLog:
    """Write one ledger row and change the locked card in memory (the caller saves it); its
    events (`balance_change`, and `redeem` when the row uses the card up) go in the same
    transaction. `counted`: the row is a money move of its own in the metrics (an order
    refund spread over several debits is one move: its rows after the first are not)."""
    status_before = card.status
    card.balance_cents += amount_cents
    if new_status is not None:
        card.status = new_status
    checks.touch(card, actor)
    entry = BalanceLog.objects.create(
        card=card,
        kind=kind,
        amount_cents=amount_cents,
        balance_after_cents=card.balance_cents,
        idempotency_key=idempotency_key or None,
        order_reference=order_reference or "",
        refund_of=refund_of,
        transfer=transfer,
        actor_name=actor.name,
        user=actor.user,
        api_key=actor.api_key,
        note=note or "",
        occurred_at=occurred_at,
        created_at=card.updated_at,
    )
    happened = [(topics.CARD_BALANCE_CHANGE, outbox.card_facts(card, **outbox.ledger_entry(entry)))]
    if card.status == Status.REDEEMED and status_before != Status.REDEEMED:
        happened.append((topics.CARD_REDEEM, outbox.card_facts(card)))
    outbox.record(card, *happened)
    if counted:
        metrics.money_moved([kind])
    return entry


def save(card: GiftCard, fields: Collection[str]) -> GiftCard:
    card.save(update_fields=sorted({*fields, "updated_at", "modified_by"}))
    return card


# ---------------------------------------------------------------------------- steps
# Each takes the locked card, raises before writing anything, and returns the ledger row.


def check_spendable(
    card: GiftCard, amount_cents: int, *, currency_code: str | None = None, spend: str = "debited"
) -> None:
    """Refuse unless `amount_cents` can leave the locked card: it is active, not expired nor
    deleted, holds that much, and (when the caller names one) in `currency_code`."""
    checks.require_positive_cents(amount_cents)
    checks.check_not_deleted(card)
    if card.status == Status.REDEEMED and card.balance_cents == 0:
        # Used up: what cannot be met is the balance (the plain API has no "redeemed").
        raise exceptions.CardNotActive(
            f"Only an active card can be {spend}; this card is redeemed: its balance is "
            f"{checks.format_amount(card, 0)}.",
            subject="balance_cents",
            status=card.status,
            balance=checks.format_amount(card, 0),
        )
    if card.status != Status.ACTIVE:
        raise exceptions.CardNotActive(
            f"Only an active card can be {spend}; this card is {card.status}.",
            status=card.status,
        )
    checks.check_not_expired(card)
    checks.check_currency(card, currency_code)
    if amount_cents > card.balance_cents:
        raise exceptions.InsufficientBalance(
            f"The card's balance is {checks.format_amount(card, card.balance_cents)}; "
            f"{checks.format_amount(card, amount_cents)} cannot be {spend}."
        )


def spent_status(card: GiftCard, amount_cents: int) -> str | None:
    """The status of a card `amount_cents` is about to leave: redeemed when that uses it up
    (all of its balance, or any use of a single-use card), else unchanged (None)."""
    return Status.REDEEMED if amount_cents == card.balance_cents or card.single_use else None


def check_receivable(
    card: GiftCard,
    amount_cents: int,
    *,
    currency_code: str | None = None,
    receive: str = "recharged",
) -> None:
    """Refuse unless `amount_cents` can be added to the locked card: rechargeable, active (or
    redeemed and not single-use), not expired nor deleted, within its maximum afterwards."""
    checks.require_positive_cents(amount_cents)
    checks.check_not_deleted(card)
    if not card.rechargeable:
        raise exceptions.NotRechargeable("This card is not rechargeable.")
    reusable = card.status == Status.REDEEMED and not card.single_use
    if card.status != Status.ACTIVE and not reusable:
        detail = " single-use and" if card.single_use else ""
        raise exceptions.CardNotActive(
            f"Only an active card can be {receive}; this card is{detail} {card.status}.",
            status=card.status,
        )
    checks.check_not_expired(card)
    checks.check_currency(card, currency_code)
    checks.check_within_max(card, card.balance_cents + amount_cents)


def debit(
    card: GiftCard,
    amount_cents: int,
    actor: Actor,
    *,
    currency_code: str | None = None,
    idempotency_key: str | None = None,
    order_reference: str = "",
    note: str = "",
    occurred_at: datetime | None = None,
) -> BalanceLog:
    check_spendable(card, amount_cents, currency_code=currency_code)
    return post(
        card,
        kind=Kind.DEBIT,
        amount_cents=-amount_cents,
        actor=actor,
        new_status=spent_status(card, amount_cents),
        idempotency_key=idempotency_key,
        order_reference=order_reference,
        note=note,
        occurred_at=occurred_at,
    )


def recharge(
    card: GiftCard,
    amount_cents: int,
    actor: Actor,
    *,
    currency_code: str | None = None,
    idempotency_key: str | None = None,
    order_reference: str = "",
    note: str = "",
) -> BalanceLog:
    check_receivable(card, amount_cents, currency_code=currency_code)
    return post(
        card,
        kind=Kind.RECHARGE,
        amount_cents=amount_cents,
        actor=actor,
        new_status=Status.ACTIVE,
        idempotency_key=idempotency_key,
        order_reference=order_reference,
        note=note,
    )


def adjust(
    card: GiftCard,
    new_balance_cents: int,
    actor: Actor,
    *,
    note: str,
    idempotency_key: str | None = None,
    reopen_redeemed: bool = False,
) -> BalanceLog | None:
    checks.require_non_negative_cents(new_balance_cents, "balance_cents")
    delta = new_balance_cents - card.balance_cents
    checks.check_not_deleted(card)
    if delta == 0:
        return None
    checks.check_within_max(card, new_balance_cents, subject="balance_cents")
    reopen = (
        reopen_redeemed
        and card.status == Status.REDEEMED
        and not card.single_use
        and new_balance_cents > 0
    )
    return post(
        card,
        kind=Kind.ADJUSTMENT,
        amount_cents=delta,
        actor=actor,
        new_status=Status.ACTIVE if reopen else None,
        idempotency_key=idempotency_key,
        note=note,
    )


# ---------------------------------------------------------------------------- operations


def move(card, *, tenant, key, kind, same, step, if_match=None) -> BalanceChange:
    """One balance operation: lock the card, answer a retry of `key` with its row (`same`
    gives the values that must match), else run `step` and save the card."""
    with transaction.atomic():
        locked = lock_card(card, tenant=tenant, if_match=if_match)
        earlier = replay(locked, key, kind, **same(locked))
        if earlier:
            return earlier
        entry = step(locked)
        if entry is not None:
            save(locked, BALANCE_FIELDS)
    return BalanceChange(card=locked, entry=entry, entries=(entry,) if entry else ())


@metrics.counts_refusals(Kind.DEBIT)
def card_debit(
    *,
    card: GiftCard | str,
    amount_cents: int | None = None,
    actor: Actor,
    amount: Decimal | None = None,
    tenant: Tenant | None = None,
    currency_code: str | None = None,
    idempotency_key: str | None = None,
    order_reference: str = "",
    note: str = "",
    occurred_at: datetime | None = None,
    if_match: Collection[str] | None = None,
) -> BalanceChange:
    """Spend `amount_cents` (> 0) of an active card's balance.

    The card becomes redeemed when its balance reaches 0, or after its first debit if it is
    single-use. A caller that does not know the card's currency (the plain API) gives `amount`
    in major units instead, converted exactly with the locked card's currency. Raises
    CardNotFound, PreconditionFailed, InvalidAmount, CardDeleted, CardNotActive,
    CardExpired, CurrencyMismatch, InsufficientBalance, IdempotencyConflict.
    """
    if amount is None:
        checks.require_positive_cents(amount_cents)

    def cents(locked: GiftCard) -> int:
        if amount is None:
            return amount_cents
        return checks.require_positive_cents(checks.to_cents(amount, locked))

    return move(
        card,
        tenant=tenant,
        if_match=if_match,
        key=idempotency_key,
        kind=Kind.DEBIT,
        same=lambda locked: {
            "amount_cents": -cents(locked),
            "order_reference": order_reference or "",
        },
        step=lambda locked: debit(
            locked,
            cents(locked),
            actor,
            currency_code=currency_code,
            idempotency_key=idempotency_key,
            order_reference=order_reference,
            note=note,
            occurred_at=occurred_at,
        ),
    )


@metrics.counts_refusals(Kind.RECHARGE)
def card_recharge(
    *,
    card: GiftCard | str,
    amount_cents: int,
    actor: Actor,
    tenant: Tenant | None = None,
    currency_code: str | None = None,
    idempotency_key: str | None = None,
    order_reference: str = "",
    note: str = "",
) -> BalanceChange:
    """Add `amount_cents` (> 0) to a rechargeable card that is active, or redeemed and not
    single-use (which makes it active again).

    Raises CardNotFound, InvalidAmount, CardDeleted, NotRechargeable, CardNotActive,
    CardExpired, CurrencyMismatch, BalanceMaxExceeded, IdempotencyConflict.
    """
    checks.require_positive_cents(amount_cents)
    return move(
        card,
        tenant=tenant,
        key=idempotency_key,
        kind=Kind.RECHARGE,
        same=lambda locked: {"amount_cents": amount_cents},
        step=lambda locked: recharge(
            locked,
            amount_cents,
            actor,
            currency_code=currency_code,
            idempotency_key=idempotency_key,
            order_reference=order_reference,
            note=note,
        ),
    )


@metrics.counts_refusals(Kind.ADJUSTMENT)
def card_adjust(
    *,
    card: GiftCard | str,
    new_balance_cents: int,
    actor: Actor,
    note: str,
    tenant: Tenant | None = None,
    idempotency_key: str | None = None,
    reopen_redeemed: bool = False,
) -> BalanceChange:
    """Set the balance to `new_balance_cents`, recording the difference as an adjustment.

    Allowed in any status, never on a deleted card; the status does not change, except that
    with `reopen_redeemed` a redeemed card that is not single-use and gets a positive balance
    becomes active again (the plain API, which has no "redeemed", asks for that). Setting the
    same balance writes nothing. Raises CardNotFound, InvalidAmount, CardDeleted,
    BalanceMaxExceeded, IdempotencyConflict.
    """
    checks.require_non_negative_cents(new_balance_cents, "balance_cents")
    return move(
        card,
        tenant=tenant,
        key=idempotency_key,
        kind=Kind.ADJUSTMENT,
        # A retry asks for the same target balance; the difference has changed since.
        same=lambda locked: {"balance_after_cents": new_balance_cents},
        step=lambda locked: adjust(
            locked,
            new_balance_cents,
            actor,
            note=note,
            idempotency_key=idempotency_key,
            reopen_redeemed=reopen_redeemed,
        ),
    )
