"""`ETag` / `If-Match` on a gift card, for both APIs.

Both APIs let a client write a card's balance directly (`balance_cents`, `balanceAmount`;
the plain API even requires it on every update), which the ledger records as an
adjustment. A client that sends back a card it read before a till debited it would silently
undo that debit. A single card's responses carry an `ETag` (the card's version: it changes
with every write, balance changes included); an update sent with `If-Match` is refused with
412, writing nothing, when the card has changed since. The services check it on the locked
row (`services.lock_card`); this module only speaks HTTP.
"""

from __future__ import annotations

from giftcards.models import GiftCard
from giftcards.services import card_version

HEADER = "If-Match"


def card_etag(card: GiftCard) -> str:
    return card_version(card)


def if_match(request) -> frozenset[str] | None:
    """The versions `If-Match` accepts; None when absent or `*` (any version)."""
    sent = request.headers.get(HEADER)
    if sent is None or sent.strip() == "*":
        return None
    return frozenset(tag.strip() for tag in sent.split(","))
