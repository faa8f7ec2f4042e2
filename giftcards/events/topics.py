"""The topics a webhook can subscribe to, Commerce Layer's names, and the resource each is
about. `GET /api/events` lists them; `giftcards.services` records them (through
`events.outbox`) in the transaction of the change:

- `gift_cards.create`: a card was issued (by any entry point); a card issued inactive or
  active is also `purchase`d, one issued active also `activate`d, in that order;
- `gift_cards.purchase`, `.activate`, `.deactivate`: the status triggers (a draft activated
  directly is purchased, then activated);
- `gift_cards.redeem`: a debit used the card up (balance 0, or a single-use card's debit);
- `gift_cards.destroy`: the card was deleted (soft: it stays in the ledger and the admin);
- `gift_cards.balance_change`: one per ledger row (issue, debit, recharge, adjustment,
  refund), with the row in the event's data;
- `gift_card_recipients.create`: a recipient was created (directly, or found-or-created by
  email for a card).
"""

from __future__ import annotations

GIFT_CARDS = "gift_cards"
GIFT_CARD_RECIPIENTS = "gift_card_recipients"

CARD_CREATE = "gift_cards.create"
CARD_PURCHASE = "gift_cards.purchase"
CARD_ACTIVATE = "gift_cards.activate"
CARD_DEACTIVATE = "gift_cards.deactivate"
CARD_REDEEM = "gift_cards.redeem"
CARD_DESTROY = "gift_cards.destroy"
CARD_BALANCE_CHANGE = "gift_cards.balance_change"
RECIPIENT_CREATE = "gift_card_recipients.create"

# topic -> the resource type its payload is a document of, in the order the API lists them.
TOPICS: dict[str, str] = {
    CARD_CREATE: GIFT_CARDS,
    CARD_PURCHASE: GIFT_CARDS,
    CARD_ACTIVATE: GIFT_CARDS,
    CARD_DEACTIVATE: GIFT_CARDS,
    CARD_REDEEM: GIFT_CARDS,
    CARD_DESTROY: GIFT_CARDS,
    CARD_BALANCE_CHANGE: GIFT_CARDS,
    RECIPIENT_CREATE: GIFT_CARD_RECIPIENTS,
}
# Status trigger -> its topic.
TRIGGER_TOPICS = {
    "purchase": CARD_PURCHASE,
    "activate": CARD_ACTIVATE,
    "deactivate": CARD_DEACTIVATE,
}


def of_resource(resource_type: str) -> list[str]:
    """The topics about one resource type (a card's `events` relationship)."""
    return [name for name, type_ in TOPICS.items() if type_ == resource_type]
