"""A card's logs rendered from its ledger rows (selectors.LEDGER_ROW), the secrets a document
shows decrypted, and a card's tag linkage."""

from __future__ import annotations

import json

from giftcards import codes, selectors
from giftcards.jsonapi.documents.members import USAGE_ACTIONS
from giftcards.models import GiftCard


def balance_log(ledger: list[tuple] | None) -> list[dict]:
    """Every ledger row, oldest first, the issue included: the changes sum to the balance."""
    return [
        {
            "datetime": at,
            "balance_change_cents": amount,
            "kind": kind,
            "balance_after_cents": after,
            "order_reference": order or None,
        }
        for _pk, kind, amount, after, order, at in ledger or ()
    ]


def usage_log(ledger: list[tuple] | None) -> dict[str, list[dict]]:
    """The ledger rows filed under an order reference, grouped by order."""
    usage: dict[str, list[dict]] = {}
    for _pk, kind, amount, after, order, at in ledger or ():
        if not order or kind not in USAGE_ACTIONS:
            continue
        usage.setdefault(order, []).append(
            {
                "action": USAGE_ACTIONS[kind],
                "amount_cents": amount,
                "balance_cents": after,
                "order_number": order,
                "datetime": at,
            }
        )
    return usage


def readable(token: str) -> str | None:
    """A secret encrypted with the code key, or None when no configured key reads it (a key
    removed too early): shown as missing rather than failing the whole document."""
    try:
        return codes.decrypt(token)
    except ValueError:
        return None


def payload(token: str) -> dict | None:
    """An event callback's payload: the JSON document that was sent, or None when it cannot
    be read back (see `readable`)."""
    text = readable(token)
    if text is None:
        return None
    try:
        return json.loads(text)
    except ValueError:
        return None


def card_tags(card: GiftCard) -> list:
    """A card's tags for its linkage: prefetched rows, else the pairs of its own query."""
    if "tags" in getattr(card, "_prefetched_objects_cache", {}):
        return list(card.tags.all())
    return selectors.tag_pairs(card)
