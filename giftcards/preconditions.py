"""`ETag` / `If-Match` on a gift card, for both APIs.

Both APIs let a client write a card's balance directly (`balance_cents`, `balanceAmount`;
the plain API even requires it on every update), which the ledger records as an
adjustment. A client that sends back a card it read before a till debited it would silently
undo that debit. A single card's responses carry an `ETag` (the card's version: it changes
with every write, balance changes included); an update sent with `If-Match` is refused with
412, writing nothing, when the card has changed since. The check runs on the locked row.
"""

from __future__ import annotations

import hashlib

from rest_framework import status
from rest_framework.exceptions import APIException

from giftcards.models import GiftCard

HEADER = "If-Match"


class PreconditionFailed(APIException):
    status_code = status.HTTP_412_PRECONDITION_FAILED
    default_code = "precondition_failed"
    default_detail = (
        "The gift card has changed since you read it (If-Match does not match its ETag); "
        "read it again and resend your change."
    )


def card_etag(card: GiftCard) -> str:
    version = f"{card.pk}:{card.updated_at.isoformat()}".encode()
    return f'"{hashlib.sha256(version).hexdigest()[:20]}"'


def check_if_match(request, card: GiftCard) -> None:
    """Refuse the write unless `If-Match` is absent, `*`, or lists this card's ETag.

    Call it with the card locked (select_for_update) inside the write's transaction."""
    sent = request.headers.get(HEADER)
    if sent is None or sent.strip() == "*":
        return
    tags = {tag.strip() for tag in sent.split(",")}
    if card_etag(card) not in tags:
        raise PreconditionFailed()


def locked_for_update(request, card: GiftCard) -> GiftCard:
    """The card locked for this transaction, after its If-Match precondition passed."""
    locked = GiftCard.objects.select_for_update().get(pk=card.pk)
    check_if_match(request, locked)
    return locked
