"""A change set: everything one API request asks of a card, under one lock, in one
transaction, in a fixed order (restore, recipient and attributes, status triggers, balance
written, balance changed (a debit, an order's refund or a recharge), tags, expiry, deletion).
A refusal at any step leaves the card, its ledger and its history as they were, and says which
step refused (`exc.step`).
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from django.db import transaction

from clients.tenancy import Actor, Tenant
from giftcards import exceptions, selectors
from giftcards.events import outbox
from giftcards.models import BalanceLog, GiftCard, Tag
from giftcards.services import balances, cards, checks, refunds
from giftcards.services.door import lock_card
from giftcards_project.observability import metrics

Kind = BalanceLog.Kind


@dataclass(frozen=True)
class CardChanges:
    restore: bool = False
    recipient_email: str | None = None  # found or created by email, then set as recipient
    attributes: Mapping[str, Any] = field(default_factory=dict)  # see cards.UPDATABLE_FIELDS
    triggers: tuple[str, ...] = ()  # "purchase", "activate", "deactivate", in this order
    balance_cents: int | None = None  # written directly: an adjustment for the difference
    balance_note: str = ""
    reopen_redeemed: bool = False
    # < 0 a debit; > 0 a refund of `order_reference` when that order has debits on the card,
    # else a recharge.
    balance_change_cents: int | None = None
    order_reference: str = ""
    replace_tags: tuple[Tag, ...] | None = None  # the card's tags, replaced before add/remove
    add_tags: tuple[str, ...] = ()
    remove_tags: tuple[str, ...] = ()
    expire_now: bool = False
    soft_delete: bool = False


@dataclass(frozen=True)
class ChangeResult:
    """The card after the change set, the ledger rows it wrote, for a caller that read
    the ledger before the lock (`ledger_seen`) the whole ledger as of this change, and what
    the caller's `prepare` returned."""

    card: GiftCard
    entries: tuple[BalanceLog, ...] = ()
    replayed: bool = False
    ledger: list[tuple] | None = None  # selectors.LEDGER_ROW
    prepared: Any = None


@contextmanager
def _step(name: str) -> Iterator[None]:
    try:
        yield
    except exceptions.GiftCardError as exc:
        exc.step = name
        raise


def _replay(locked: GiftCard, changes: CardChanges, key: str | None):
    """A retry of a change set that moved money finds its ledger row: nothing runs again."""
    if not key:
        return None
    change = changes.balance_change_cents
    if change:
        order = changes.order_reference or ""
        if change > 0 and order:
            earlier = refunds.order_refund_replay(
                locked, key, amount_cents=change, order_reference=order
            )
            if earlier:
                return earlier
        kind = Kind.DEBIT if change < 0 else Kind.RECHARGE
        return balances.replay(locked, key, kind, amount_cents=change, order_reference=order)
    if changes.balance_cents is not None:
        return balances.replay(
            locked, key, Kind.ADJUSTMENT, balance_after_cents=changes.balance_cents
        )
    return None


def _balance_change(
    locked: GiftCard, changes: CardChanges, actor: Actor, key: str | None
) -> list[BalanceLog]:
    """A debit, a refund of the order's debits on this card, or a recharge."""
    change, order = changes.balance_change_cents, changes.order_reference
    if change < 0:
        return [balances.debit(locked, -change, actor, idempotency_key=key, order_reference=order)]
    debits = refunds.order_debits(locked, order) if order else []
    if debits:
        return refunds.refund_order(
            locked, order, change, actor, debits=debits, idempotency_key=key
        )
    return [balances.recharge(locked, change, actor, idempotency_key=key, order_reference=order)]


def _money_move(call: dict) -> str | None:
    """The money move a change set asks for, as a refusal counts it: its balance change (a
    positive change for an order counts as a refund), else its written balance."""
    changes = call.get("changes")
    if changes is None:
        return None
    if changes.balance_change_cents:
        if changes.balance_change_cents < 0:
            return Kind.DEBIT
        return Kind.REFUND if changes.order_reference else Kind.RECHARGE
    return Kind.ADJUSTMENT if changes.balance_cents is not None else None


@metrics.counts_refusals(_money_move)
def card_change(
    *,
    card: GiftCard | str,
    actor: Actor,
    changes: CardChanges,
    tenant: Tenant | None = None,
    if_match: Collection[str] | None = None,
    idempotency_key: str | None = None,
    related: bool = False,
    visible: bool = False,
    ledger_seen: selectors.LedgerSnapshot | None = None,
    prepare: Callable[[GiftCard], Any] | None = None,
) -> ChangeResult:
    """Apply a change set. `related` brings the recipient, market and tag linkage with the
    locked row (for rendering without another query); `visible` treats a soft-deleted card
    as not found (see `door.lock_card`).

    `prepare(card)` runs last, in the transaction and under the lock: a caller gets ready
    there whatever its response needs that could fail (decrypting the code, reading rows),
    so that a failure moves nothing and nothing after the commit can fail.

    Raises CardNotFound, PreconditionFailed and whatever the steps raise (see
    `services.balances` and `services.cards`), with `step` set.
    """
    with transaction.atomic(), outbox.batched():
        recipient = None
        if changes.recipient_email:
            with _step("attributes"):
                recipient = cards.recipient_find_or_create(
                    tenant=tenant or checks.tenant_of(card), email=changes.recipient_email
                )
        locked = lock_card(card, tenant=tenant, if_match=if_match, related=related, visible=visible)
        ledger = None
        if ledger_seen is not None:
            ledger = selectors.ledger_as_of_lock(locked, ledger_seen)
        earlier = _replay(locked, changes, idempotency_key)
        if earlier:
            prepared = prepare(locked) if prepare else None
            return ChangeResult(
                card=locked,
                entries=earlier.entries,
                replayed=True,
                ledger=ledger,
                prepared=prepared,
            )

        fields: set[str] = set()
        entries: list[BalanceLog] = []
        with _step("restore"):
            if changes.restore:
                fields.update(cards.restore(locked))
        attributes = dict(changes.attributes)
        if recipient is not None:
            attributes["recipient"] = recipient
        if attributes:
            with _step("attributes"):
                fields.update(cards.update(locked, attributes))
        for trigger in changes.triggers:
            with _step(trigger):
                fields.update(cards.transition(locked, trigger))
        if changes.balance_cents is not None:
            with _step("balance_cents"):
                entry = balances.adjust(
                    locked,
                    changes.balance_cents,
                    actor,
                    note=changes.balance_note,
                    idempotency_key=idempotency_key,
                    reopen_redeemed=changes.reopen_redeemed,
                )
                entries.extend([entry] if entry else [])
        if changes.balance_change_cents:
            with _step("balance_change_cents"):
                entries.extend(_balance_change(locked, changes, actor, idempotency_key))
        if changes.add_tags or changes.remove_tags or changes.replace_tags is not None:
            with _step("tags"):
                tag_fields = cards.tags_step(
                    locked, changes.add_tags, changes.remove_tags, changes.replace_tags
                )
                fields.update(tag_fields)
                if tag_fields and related:
                    locked.tag_pairs = selectors.tag_pairs_of(locked)
        if changes.expire_now:
            fields.update(cards.expire_now(locked))
        if changes.soft_delete:
            fields.update(cards.soft_delete(locked))
        if entries:
            fields.update(balances.BALANCE_FIELDS)
        if fields:
            checks.touch(locked, actor)
            balances.save(locked, fields)
        prepared = prepare(locked) if prepare else None
    if ledger is not None:
        ledger = [*ledger, *map(selectors.ledger_row, entries)]
    return ChangeResult(card=locked, entries=tuple(entries), ledger=ledger, prepared=prepared)
