"""The door every writer goes through: a card is locked through the caller's tenant, once per
operation, and its version precondition is checked on the locked row.

A foreign id can never be locked: the lock query itself is scoped to the business and mode.
Cards locked together are locked in primary-key order, so two operations on the same pair
never wait for each other in opposite orders (no deadlocks).
"""

from __future__ import annotations

import hashlib
from collections.abc import Collection, Iterable

from clients.tenancy import Tenant
from giftcards import exceptions, selectors
from giftcards.models import GiftCard


def card_version(card: GiftCard) -> str:
    """A token that changes with every write of the card (balance changes included): the
    APIs send it as the card's ETag and take it back as If-Match."""
    version = f"{card.pk}:{card.updated_at.isoformat()}".encode()
    return f'"{hashlib.sha256(version).hexdigest()[:20]}"'


def _scope(card: GiftCard | str, tenant: Tenant | None) -> tuple[str, int, str]:
    """(pk, business id, mode) the lock is confined to. A card instance stands for its own
    tenant (it was read through a scoped query); a bare id needs the caller's."""
    if isinstance(card, GiftCard):
        if tenant is not None and not card.belongs_to(tenant):
            raise exceptions.CardNotFound("No such gift card.")
        return card.pk, card.business_id, card.mode
    if tenant is None:
        raise TypeError("Locking a card by id needs the caller's tenant.")
    return card, tenant.business.pk, tenant.mode


def _lock(
    pk: str, business_id: int, mode: str, *, related: bool = False, visible: bool = False
) -> GiftCard:
    # No ORDER BY (the model's default ordering): one row by primary key.
    queryset = GiftCard.objects.filter(pk=pk, business_id=business_id, mode=mode).order_by()
    if visible:
        queryset = queryset.filter(deleted_at__isnull=True)
    if related:
        queryset = selectors.with_tag_pairs(
            queryset.select_related("recipient", "market").select_for_update(of=("self",))
        )
    else:
        queryset = queryset.select_for_update()
    found = list(queryset)
    if not found:
        raise exceptions.CardNotFound("No such gift card.")
    return found[0]


def lock_card(
    card: GiftCard | str,
    *,
    tenant: Tenant | None = None,
    if_match: Collection[str] | None = None,
    related: bool = False,
    visible: bool = False,
) -> GiftCard:
    """The card, locked until the end of the current transaction.

    `if_match` is the set of versions the caller accepts (None: any). With `related`, the
    card's recipient, market and tag linkage come in the same query (only the card row is
    locked); with `visible`, a soft-deleted card is not found (the JSON:API hides them).
    Raises CardNotFound, PreconditionFailed.
    """
    locked = _lock(*_scope(card, tenant), related=related, visible=visible)
    if if_match is not None and card_version(locked) not in if_match:
        raise exceptions.PreconditionFailed(
            "The gift card has changed since you read it (If-Match does not match its ETag); "
            "read it again and resend your change."
        )
    return locked


def lock_cards(
    cards: Iterable[GiftCard | str], *, tenant: Tenant | None = None, visible: bool = False
) -> list[GiftCard]:
    """Several cards, each within the tenant, locked in primary-key order and returned in
    that order (`visible`: see `lock_card`)."""
    scopes = sorted({_scope(card, tenant) for card in cards})
    return [_lock(*scope, visible=visible) for scope in scopes]
