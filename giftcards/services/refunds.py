"""Refunds: money a debit took, given back to its card, in part or in full.

Every refund row links the debit it gives back (`refund_of`), and the refunds of one debit
never exceed it in total: the remainder is read under the card's lock (all of a debit's
refunds are on its card, so the lock serialises them) and a database trigger holds the same
rule (migration 0006). A payment (the plain API) is refunded by its id; an order (the
JSON:API's `_order_reference`) by spreading the refund over the order's debits on the card,
newest first, one row per debit it touches.

Refunds are allowed on cards that cannot be recharged, on expired and inactive cards (the
money was the customer's), never on deleted ones; a redeemed card is active again after one.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal

from django.db.models import Sum

from clients.tenancy import Actor, Tenant
from giftcards import exceptions
from giftcards.models import BalanceLog, GiftCard, Status
from giftcards.services import balances, checks
from giftcards_project.observability import metrics

Kind = BalanceLog.Kind
# The rows of one refund spread over several debits carry the request's key, then the key
# with this suffix and the row's number (ledger keys are unique per card).
PART_KEY = "{key}~{number}"


@dataclass(frozen=True)
class Refundable:
    """A debit and how much of it can still be refunded."""

    payment: BalanceLog
    remaining_cents: int


def refunded_cents(payment: BalanceLog) -> int:
    """What the refunds of `payment` gave back so far."""
    total = BalanceLog.objects.filter(refund_of=payment).aggregate(total=Sum("amount_cents"))
    return total["total"] or 0


def order_debits(card: GiftCard, order_reference: str) -> list[Refundable]:
    """The card's debits under `order_reference`, newest first, each with what remains of it
    (one query). Empty when the order spent nothing on this card."""
    debits = (
        card.ledger.payments()
        .filter(order_reference=order_reference)
        .annotate(refunded=Sum("refunds__amount_cents"))
        .order_by("-created_at", "-id")
    )
    return [Refundable(debit, -debit.amount_cents - (debit.refunded or 0)) for debit in debits]


def _give_back(
    card: GiftCard,
    payment: BalanceLog,
    amount_cents: int,
    actor: Actor,
    *,
    idempotency_key: str | None,
    note: str,
    counted: bool = True,
) -> BalanceLog:
    return balances.post(
        card,
        kind=Kind.REFUND,
        amount_cents=amount_cents,
        actor=actor,
        new_status=Status.ACTIVE if card.status == Status.REDEEMED else None,
        idempotency_key=idempotency_key,
        order_reference=payment.order_reference,
        note=note,
        refund_of=payment,
        counted=counted,
    )


# ---------------------------------------------------------------------------- steps
# Each takes the locked card, raises before writing anything, and returns what it wrote.


def refund_payment(
    card: GiftCard,
    payment: BalanceLog,
    actor: Actor,
    *,
    amount_cents: int | None = None,
    idempotency_key: str | None = None,
    note: str = "",
) -> BalanceLog:
    """Give back `amount_cents` of the debit `payment` of the locked card, or all that remains
    of it (None). Raises InvalidAmount, CardDeleted, AlreadyRefunded (nothing remains),
    RefundExceedsPayment, BalanceMaxExceeded."""
    if amount_cents is not None:
        checks.require_positive_cents(amount_cents)
    checks.check_not_deleted(card)
    remaining = -payment.amount_cents - refunded_cents(payment)
    if remaining <= 0:
        raise exceptions.AlreadyRefunded("This payment has already been refunded in full.")
    if amount_cents is None:
        amount_cents = remaining
    elif amount_cents > remaining:
        paid = checks.format_amount(card, -payment.amount_cents)
        raise exceptions.RefundExceedsPayment(
            f"Only {checks.format_amount(card, remaining)} of this {paid} payment can still be "
            f"refunded; {checks.format_amount(card, amount_cents)} cannot."
        )
    checks.check_within_max(card, card.balance_cents + amount_cents)
    return _give_back(
        card, payment, amount_cents, actor, idempotency_key=idempotency_key, note=note
    )


def refund_order(
    card: GiftCard,
    order_reference: str,
    amount_cents: int,
    actor: Actor,
    *,
    debits: list[Refundable] | None = None,
    idempotency_key: str | None = None,
    note: str = "",
) -> list[BalanceLog]:
    """Give back `amount_cents` of what the order spent on the locked card, from its newest
    debit back (`debits`: `order_debits`, when the caller has read them). Raises
    InvalidAmount, CardDeleted, AlreadyRefunded (nothing remains), RefundExceedsPayment,
    BalanceMaxExceeded."""
    checks.require_positive_cents(amount_cents)
    checks.check_not_deleted(card)
    debits = order_debits(card, order_reference) if debits is None else debits
    remaining = sum(debit.remaining_cents for debit in debits)
    if remaining <= 0:
        raise exceptions.AlreadyRefunded(
            f"Order {order_reference!r} has already been refunded in full on this card."
        )
    if amount_cents > remaining:
        spent = checks.format_amount(card, sum(-debit.payment.amount_cents for debit in debits))
        raise exceptions.RefundExceedsPayment(
            f"Order {order_reference!r} spent {spent} on this card, of which "
            f"{checks.format_amount(card, remaining)} can still be refunded; "
            f"{checks.format_amount(card, amount_cents)} cannot."
        )
    checks.check_within_max(card, card.balance_cents + amount_cents)
    rows = []
    for number, (debit, part) in enumerate(_spread(debits, amount_cents), start=1):
        key = idempotency_key
        if key and number > 1:
            key = PART_KEY.format(key=idempotency_key, number=number)
        # One refund in the metrics, however many debits it gives back to.
        rows.append(
            _give_back(
                card, debit, part, actor, idempotency_key=key, note=note, counted=number == 1
            )
        )
    return rows


def _spread(debits: list[Refundable], amount_cents: int) -> Iterator[tuple[BalanceLog, int]]:
    left = amount_cents
    for debit in debits:
        if left == 0:
            return
        part = min(left, debit.remaining_cents)
        if part > 0:
            yield debit.payment, part
            left -= part


def order_refund_replay(
    card: GiftCard, idempotency_key: str | None, *, amount_cents: int, order_reference: str
) -> balances.BalanceChange | None:
    """The earlier order refund made with this key on this card (all its rows), if any; a
    row with the key that is not that refund is an IdempotencyConflict. Under the card lock."""
    if not idempotency_key:
        return None
    first = card.ledger.filter(idempotency_key=idempotency_key).first()
    if first is None or first.kind != Kind.REFUND:
        return None
    prefix = PART_KEY.format(key=idempotency_key, number="")
    rows = [first, *card.ledger.filter(idempotency_key__startswith=prefix).order_by("id")]
    if first.order_reference != order_reference or sum(r.amount_cents for r in rows) != (
        amount_cents
    ):
        raise exceptions.IdempotencyConflict(
            "This Idempotency-Key was already used on this card for a different operation "
            f"(refund of {sum(r.amount_cents for r in rows)} cents).",
            key=idempotency_key,
        )
    return balances.BalanceChange(card=card, entry=first, replayed=True, entries=tuple(rows))


# ---------------------------------------------------------------------------- operations


@metrics.counts_refusals(Kind.REFUND)
def card_refund(
    *,
    payment: BalanceLog,
    actor: Actor,
    tenant: Tenant | None = None,
    amount_cents: int | None = None,
    amount: Decimal | None = None,
    note: str = "",
    idempotency_key: str | None = None,
) -> balances.BalanceChange:
    """Give back part of a debit (`amount_cents`, or `amount` in major units converted with
    the card's currency under its lock), or all that remains of it (neither).

    Raises CardNotFound, NotRefundable, InvalidAmount, CardDeleted, AlreadyRefunded,
    RefundExceedsPayment, BalanceMaxExceeded, IdempotencyConflict.
    """
    if payment.kind != Kind.DEBIT:
        raise exceptions.NotRefundable("Only a debit can be refunded.")
    if amount_cents is not None:
        checks.require_positive_cents(amount_cents)

    def cents(locked: GiftCard) -> int | None:
        if amount is None:
            return amount_cents
        return checks.require_positive_cents(checks.to_cents(amount, locked))

    def same(locked: GiftCard) -> dict:
        wanted = cents(locked)
        return {"refund_of_id": payment.pk, **({"amount_cents": wanted} if wanted else {})}

    return balances.move(
        payment.card if tenant is None else payment.card_id,
        tenant=tenant,
        key=idempotency_key,
        kind=Kind.REFUND,
        same=same,
        step=lambda locked: refund_payment(
            locked,
            payment,
            actor,
            amount_cents=cents(locked),
            idempotency_key=idempotency_key,
            note=note,
        ),
    )
