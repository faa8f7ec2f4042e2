"""The only door through which gift card balances and statuses change.

Every operation follows one recipe: open a transaction, lock the card row through the
caller's tenant (`door.lock_card`, once), check everything against the locked row, write at
most one ledger row per balance step, save the card once with `update_fields`. Checks made
before the lock would let two debits race for the same dollar. Each function says in its
docstring which domain errors it raises; on any error nothing has been written.

- `door`: locking (tenant-scoped, primary-key order) and the version precondition;
- `issuing`: new cards; `balances`: debits, recharges, adjustments; `refunds`: payments and
  orders given back, in part or in full; `transfers`: money moved between two cards;
- `cards`: status triggers, attributes, expiry, deletion, tags, recipients;
- `changes`: a change set of several of those under one lock (what an API update asks).
"""

from giftcards.services.balances import (
    BalanceChange,
    card_adjust,
    card_debit,
    card_recharge,
)
from giftcards.services.bulk_issue import cards_issue_many
from giftcards.services.cards import (
    TRANSITIONS,
    UPDATABLE_FIELDS,
    card_activate,
    card_deactivate,
    card_expire_now,
    card_purchase,
    card_restore,
    card_set_tags,
    card_soft_delete,
    card_transition,
    card_update,
    recipient_find_or_create,
)
from giftcards.services.changes import CardChanges, ChangeResult, card_change
from giftcards.services.checks import MAX_CENTS
from giftcards.services.door import card_version, lock_card, lock_cards
from giftcards.services.issuing import ISSUABLE_STATUSES, card_issue, card_issued_with
from giftcards.services.refunds import card_refund
from giftcards.services.transfers import TransferResult, card_transfer

__all__ = [
    "ISSUABLE_STATUSES",
    "MAX_CENTS",
    "TRANSITIONS",
    "UPDATABLE_FIELDS",
    "BalanceChange",
    "CardChanges",
    "ChangeResult",
    "TransferResult",
    "card_activate",
    "card_adjust",
    "card_change",
    "card_deactivate",
    "card_debit",
    "card_expire_now",
    "card_issue",
    "card_issued_with",
    "card_purchase",
    "card_recharge",
    "card_refund",
    "card_restore",
    "card_set_tags",
    "card_soft_delete",
    "card_transfer",
    "card_transition",
    "card_update",
    "card_version",
    "cards_issue_many",
    "lock_card",
    "lock_cards",
    "recipient_find_or_create",
]
