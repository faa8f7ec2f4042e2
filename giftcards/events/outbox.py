"""Recording events: rows written in the transaction of the change they record.

`record` is called by the services, under the lock of the row that changed, inside their
transaction: a rolled-back change takes its events with it, a committed one always has them.
It writes one statement however many events a step records (a change set of several steps
gathers them in a `batched` block: one statement too), and asks for the workers to be woken
once the transaction commits (`engine.kick`); nothing here touches the network.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager

from django.db import connection, transaction
from django.utils import timezone

from giftcards.events import engine, topics
from giftcards.models import GiftCard, GiftCardRecipient, OutboxEvent
from giftcards.selectors import iso_utc

RESOURCE_TYPES = {GiftCard: topics.GIFT_CARDS, GiftCardRecipient: topics.GIFT_CARD_RECIPIENTS}


class OutsideTransaction(RuntimeError):
    """An event recorded outside a transaction could outlive a change that failed."""


_local = threading.local()


@contextmanager
def batched() -> Iterator[None]:
    """Within this block (inside a transaction), what `record` records is written in one
    statement when the block ends: a change set of several steps (triggers, a debit) costs
    one INSERT. A block that raises writes nothing, and its transaction rolls back anyway.
    Nested blocks join the outermost; events recorded inside a savepoint opened within the
    block are written at once (the savepoint may roll back alone)."""
    if getattr(_local, "pending", None) is not None:
        yield
        return
    _local.pending, _local.depth = [], len(connection.savepoint_ids)
    try:
        yield
        pending = _local.pending
    finally:
        _local.pending = None
    if pending:
        _write(pending)


def record(row: GiftCard | GiftCardRecipient, *happened: tuple[str, dict]) -> list[OutboxEvent]:
    """Record `(topic, data)` events about `row`, in this order, in the current transaction
    (at the end of the enclosing `batched` block, if any)."""
    if not happened:
        return []
    if not connection.in_atomic_block:
        raise OutsideTransaction("Events are recorded in the transaction of their change.")
    resource_type = RESOURCE_TYPES[type(row)]
    now = timezone.now()
    events = [
        OutboxEvent(
            business_id=row.business_id,
            mode=row.mode,
            name=name,
            resource_type=resource_type,
            resource_id=str(row.pk),
            data=data,
            created_at=now,
        )
        for name, data in happened
    ]
    for name, _ in happened:
        if topics.TOPICS.get(name) != resource_type:
            raise ValueError(f"{name!r} is not a topic of {resource_type}.")
    pending = getattr(_local, "pending", None)
    # Deferred only at the block's own level: a savepoint opened inside it may roll back
    # alone, taking what it wrote with it, so what is recorded there is written there.
    if pending is not None and len(connection.savepoint_ids) == _local.depth:
        pending.extend(events)
    else:
        _write(events)
    return events


def _write(events: list[OutboxEvent]) -> None:
    OutboxEvent.objects.bulk_create(events)
    transaction.on_commit(engine.kick, robust=True)


def ledger_entry(entry) -> dict:
    """A ledger row as `gift_cards.balance_change` carries it in its data."""
    return {
        "ledger_entry": {
            "id": entry.pk,
            "kind": entry.kind,
            "amount_cents": entry.amount_cents,
            "balance_after_cents": entry.balance_after_cents,
            "order_reference": entry.order_reference or None,
            # What it gives back (a refund's payment) or is half of (a balance transfer).
            "refund_of_id": entry.refund_of_id,
            "balance_transfer_id": entry.transfer_id,
            "created_at": iso_utc(entry.created_at),
        }
    }


def card_facts(card: GiftCard, **extra) -> dict:
    """What a card event carries about the card at that moment."""
    return {"status": card.status, "balance_cents": card.balance_cents, **extra}
