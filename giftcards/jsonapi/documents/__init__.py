"""JSON:API documents, built directly from rows.

Reads were dominated by per-object work in DRF/DJA serializer fields and `reverse()` for
every link; here what can be done once per request is: the link prefix, the sparse fieldsets,
the includes, and Babel's formatter per currency (in `money`). The documents are the same as
the serializers rendered (pinned by tests/giftcards/jsonapi/test_documents.py). Serializers
still validate writes; they no longer render.

Included resources are sorted by type, then id, as djangorestframework-jsonapi sorted them.

To-many relationships that can grow without bound (attachments, webhooks, callbacks) and the
card's events are links to their own paginated routes; attachments carry linkage `data` only
when the request includes them, and then for the primary data alone (`attached`, loaded by the
view in one query for the page).
"""

from giftcards.jsonapi.documents.builder import Documents, api_root, iso, sparse_fields
from giftcards.jsonapi.documents.logs import balance_log, card_tags, payload, readable, usage_log
from giftcards.jsonapi.documents.members import (
    ATTACHABLE_RELATIONSHIPS,
    ATTACHMENT_ATTRIBUTES,
    ATTACHMENT_RELATIONSHIPS,
    BALANCE_TRANSFER_ATTRIBUTES,
    BALANCE_TRANSFER_RELATIONSHIPS,
    EVENT_ATTRIBUTES,
    EVENT_CALLBACK_ATTRIBUTES,
    EVENT_CALLBACK_RELATIONSHIPS,
    EVENT_RELATIONSHIPS,
    EVENTS,
    EXPORT_ATTRIBUTES,
    FIELDS,
    GIFT_CARD_ATTRIBUTES,
    GIFT_CARD_RELATIONSHIPS,
    IMPORT_ATTRIBUTES,
    INCLUDABLE,
    MARKET_ATTRIBUTES,
    RECIPIENT_ATTRIBUTES,
    RELATIONSHIPS,
    TAG_ATTRIBUTES,
    USAGE_ACTIONS,
    VERSION_ATTRIBUTES,
    VERSION_RELATIONSHIPS,
    WEBHOOK_ATTRIBUTES,
    WEBHOOK_RELATIONSHIPS,
    names,
)

__all__ = [
    "ATTACHABLE_RELATIONSHIPS",
    "ATTACHMENT_ATTRIBUTES",
    "ATTACHMENT_RELATIONSHIPS",
    "BALANCE_TRANSFER_ATTRIBUTES",
    "BALANCE_TRANSFER_RELATIONSHIPS",
    "EVENTS",
    "EVENT_ATTRIBUTES",
    "EVENT_CALLBACK_ATTRIBUTES",
    "EVENT_CALLBACK_RELATIONSHIPS",
    "EVENT_RELATIONSHIPS",
    "EXPORT_ATTRIBUTES",
    "FIELDS",
    "GIFT_CARD_ATTRIBUTES",
    "GIFT_CARD_RELATIONSHIPS",
    "IMPORT_ATTRIBUTES",
    "INCLUDABLE",
    "MARKET_ATTRIBUTES",
    "RECIPIENT_ATTRIBUTES",
    "RELATIONSHIPS",
    "TAG_ATTRIBUTES",
    "USAGE_ACTIONS",
    "VERSION_ATTRIBUTES",
    "VERSION_RELATIONSHIPS",
    "WEBHOOK_ATTRIBUTES",
    "WEBHOOK_RELATIONSHIPS",
    "Documents",
    "api_root",
    "balance_log",
    "card_tags",
    "iso",
    "names",
    "payload",
    "readable",
    "sparse_fields",
    "usage_log",
]
