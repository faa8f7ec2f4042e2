"""What a webhook call sends: the JSON:API document of the event's resource as it is when the
call is made (with the webhook's `include_resources` included), and under the document's
`meta.event` the event itself: its id, topic, time and the facts recorded with it (for
`gift_cards.balance_change`, the ledger row).
"""

from __future__ import annotations

import orjson
from django.conf import settings

from clients.tenancy import Tenant
from giftcards import selectors
from giftcards.events import topics
from giftcards.jsonapi.documents import INCLUDABLE, Documents, api_root
from giftcards.models import GiftCard, GiftCardRecipient, OutboxEvent, Tag

# What a webhook may include, per resource type.
INCLUDES = {topics.GIFT_CARDS: frozenset(INCLUDABLE), topics.GIFT_CARD_RECIPIENTS: frozenset()}


def includable(topic: str) -> frozenset[str]:
    return INCLUDES.get(topics.TOPICS.get(topic, ""), frozenset())


def _card(docs: Documents, event: OutboxEvent) -> dict | None:
    card_id = event.resource_id
    card = (
        selectors.with_tag_pairs(GiftCard.objects.filter(pk=card_id))
        .select_related("recipient", "market")
        .first()
    )
    if card is None:
        return None
    pairs = selectors.tag_pairs(card)
    tags = pairs
    if "tags" in docs.include:
        tags = list(Tag.objects.filter(pk__in=[pk for pk, _ in pairs]).order_by("name", "id"))
    if "attachments" in docs.include:
        tenant = Tenant(business=event.business, mode=event.mode)
        docs.attach(
            topics.GIFT_CARDS,
            selectors.attachments_by_owner(
                tenant=tenant, attachable_type=topics.GIFT_CARDS, attachable_ids=[card.pk]
            ),
        )
    ledger = selectors.card_ledger_rows([card.pk])[card.pk]
    return docs.gift_card(card, ledger, tags)


def _recipient(docs: Documents, recipient_id: str) -> dict | None:
    recipient = GiftCardRecipient.objects.filter(pk=recipient_id).first()
    return docs.recipient(recipient) if recipient is not None else None


def document(event: OutboxEvent, include=()) -> dict:
    """The payload of a call for `event` (`event.business` is read for the locale)."""
    docs = Documents(
        root=api_root(settings.SITE_URL),
        include=frozenset(include) & includable(event.name),
        business=event.business,
    )
    if event.resource_type == topics.GIFT_CARDS:
        resource = _card(docs, event)
    elif event.resource_id.isdigit():
        resource = _recipient(docs, event.resource_id)
    else:
        resource = None
    if resource is None:  # a recipient deleted since: its type and id
        resource = {"type": event.resource_type, "id": event.resource_id}
    body = docs.one(resource)
    body["meta"] = {
        "event": {
            "id": event.public_id,
            "name": event.name,
            "created_at": selectors.iso_utc(event.created_at),
            "data": event.data,
        }
    }
    return body


def body(event: OutboxEvent, include=()) -> bytes:
    """`document` as the exact bytes sent (and signed)."""
    return orjson.dumps(document(event, include))
