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


class _Rows:
    """What the payloads of a batch of calls read, each kind in one query for the batch:
    cards (with recipient, market and tag linkage), their ledgers, included tags and
    attachments, recipients."""

    def __init__(self, items: list[tuple[OutboxEvent, frozenset[str]]]):
        card_ids = {e.resource_id for e, _ in items if e.resource_type == topics.GIFT_CARDS}
        recipient_ids = {
            e.resource_id
            for e, _ in items
            if e.resource_type == topics.GIFT_CARD_RECIPIENTS and e.resource_id.isdigit()
        }
        self.cards = {}
        if card_ids:
            queryset = GiftCard.objects.filter(pk__in=card_ids).select_related(
                "recipient", "market"
            )
            self.cards = {card.pk: card for card in selectors.with_tag_pairs(queryset)}
        self.ledgers = selectors.card_ledger_rows(list(self.cards)) if self.cards else {}
        self.pairs = {pk: selectors.tag_pairs(card) for pk, card in self.cards.items()}
        self.tags = {}
        if any("tags" in include for _, include in items):
            wanted = {tag for pairs in self.pairs.values() for tag, _name in pairs}
            self.tags = {tag.pk: tag for tag in Tag.objects.filter(pk__in=wanted)}
        self.attachments: dict[str, list] = {}
        owners: dict[tuple, tuple] = {}  # (business id, mode) -> (business, card ids)
        for event, include in items:
            if "attachments" in include and event.resource_id in self.cards:
                key = (event.business_id, event.mode)
                owners.setdefault(key, (event.business, set()))[1].add(event.resource_id)
        for (_business_id, mode), (business, ids) in owners.items():
            self.attachments.update(
                selectors.attachments_by_owner(
                    tenant=Tenant(business=business, mode=mode),
                    attachable_type=topics.GIFT_CARDS,
                    attachable_ids=sorted(ids),
                )
            )
        self.recipients = {
            str(recipient.pk): recipient
            for recipient in GiftCardRecipient.objects.filter(pk__in=recipient_ids)
        }

    def card(self, docs: Documents, card_id: str) -> dict | None:
        card = self.cards.get(card_id)
        if card is None:
            return None
        tags = self.pairs[card.pk]
        if "tags" in docs.include:
            tags = sorted((self.tags[pk] for pk, _ in tags), key=lambda tag: (tag.name, tag.pk))
        if "attachments" in docs.include:
            docs.attach(topics.GIFT_CARDS, {card.pk: self.attachments.get(card.pk, [])})
        return docs.gift_card(card, self.ledgers[card.pk], tags)

    def recipient(self, docs: Documents, recipient_id: str) -> dict | None:
        recipient = self.recipients.get(recipient_id)
        return docs.recipient(recipient) if recipient is not None else None


def _document(rows: _Rows, event: OutboxEvent, include: frozenset[str]) -> dict:
    docs = Documents(root=api_root(settings.SITE_URL), include=include, business=event.business)
    if event.resource_type == topics.GIFT_CARDS:
        resource = rows.card(docs, event.resource_id)
    else:
        resource = rows.recipient(docs, event.resource_id)
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


def documents(items) -> list[dict]:
    """The payloads of several calls, `items` being (event, include_resources) pairs, in one
    read of each kind of row (`event.business` is read for the locale)."""
    found = _documents(items, lambda body: body)
    for body in found:
        if isinstance(body, Exception):
            raise body
    return found


def _documents(items, finish) -> list:
    wanted = [(event, frozenset(include) & includable(event.name)) for event, include in items]
    try:
        rows = _Rows(wanted)
    except Exception as exc:  # the batch's reads: every payload fails alike
        return [exc] * len(wanted)
    found = []
    for event, include in wanted:
        try:
            found.append(finish(_document(rows, event, include)))
        except Exception as exc:  # this payload only (a code no key opens, ...)
            found.append(exc)
    return found


def document(event: OutboxEvent, include=()) -> dict:
    """The payload of one call for `event`."""
    return documents([(event, include)])[0]


def bodies(items) -> list[bytes | Exception]:
    """`documents` as the exact bytes sent (and signed); in place of a payload that could not
    be made, the exception that stopped it (the others are made all the same)."""
    return _documents(items, orjson.dumps)
