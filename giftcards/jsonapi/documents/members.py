"""What each resource type shows: its attributes and relationships, by name, in the order
documents render them (the sparse fieldsets and the serializers' read-only members come from
these tables)."""

from __future__ import annotations

from giftcards.models import BalanceLog


def names(text: str) -> tuple[str, ...]:
    """A tuple of member names written as words."""
    return tuple(text.split())


USAGE_ACTIONS = {
    BalanceLog.Kind.DEBIT: "use",
    BalanceLog.Kind.REFUND: "refund",
    BalanceLog.Kind.RECHARGE: "recharge",
    BalanceLog.Kind.ADJUSTMENT: "adjustment",
}
GIFT_CARD_ATTRIBUTES = names(
    """
    status code currency_code initial_balance_cents initial_balance_float
    formatted_initial_balance balance_cents balance_float formatted_balance
    balance_max_cents balance_max_float formatted_balance_max balance_log usage_log
    single_use rechargeable distribute_discount image_url expires_at recipient_email
    created_at updated_at reference reference_origin metadata
    """
)
GIFT_CARD_RELATIONSHIPS = (
    "market",
    "gift_card_recipient",
    "tags",
    "versions",
    "attachments",
    "events",
)
# Relationships of a card whose linkage a client can include: name -> resource type.
INCLUDABLE = {
    "gift_card_recipient": "gift_card_recipients",
    "market": "markets",
    "tags": "tags",
    "attachments": "attachments",
}
RECIPIENT_ATTRIBUTES = names(
    """
    email first_name last_name reference reference_origin metadata created_at updated_at
    """
)
MARKET_ATTRIBUTES = ("name", "currency_code", "created_at", "updated_at")
# Recipients and markets (cards have it among theirs).
ATTACHABLE_RELATIONSHIPS = ("attachments",)
TAG_ATTRIBUTES = ("name", "created_at", "updated_at")
EVENTS = {"+": "created", "~": "updated", "-": "deleted"}
VERSION_ATTRIBUTES = ("event", "changes", "changed_by", "created_at")
VERSION_RELATIONSHIPS = ("gift_card",)
EVENT_ATTRIBUTES = ("name",)
EVENT_RELATIONSHIPS = ("webhooks", "last_event_callbacks")
WEBHOOK_ATTRIBUTES = names(
    """
    name topic callback_url include_resources disabled_at circuit_state circuit_failure_count
    shared_secret created_at updated_at reference reference_origin metadata
    """
)
WEBHOOK_RELATIONSHIPS = ("last_event_callbacks",)
EVENT_CALLBACK_ATTRIBUTES = names(
    "callback_url payload response_code response_message created_at updated_at"
)
EVENT_CALLBACK_RELATIONSHIPS = ("webhook",)
ATTACHMENT_ATTRIBUTES = names(
    "name description url created_at updated_at reference reference_origin metadata"
)
ATTACHMENT_RELATIONSHIPS = ("attachable",)
BALANCE_TRANSFER_ATTRIBUTES = names(
    """
    amount_cents amount_float formatted_amount currency_code created_at updated_at reference
    reference_origin metadata
    """
)
BALANCE_TRANSFER_RELATIONSHIPS = ("source", "target")
# Commerce Layer's imports and exports (plus `dry_run` and the created/skipped counts of an
# import, and `include_codes` of an export).
IMPORT_ATTRIBUTES = names(
    """
    resource_type format status started_at completed_at interrupted_at inputs inputs_size
    processed_count created_count skipped_count errors_count warnings_count errors_log
    warnings_log dry_run created_at updated_at reference reference_origin metadata
    """
)
EXPORT_ATTRIBUTES = names(
    """
    resource_type format status filters include_codes started_at completed_at interrupted_at
    records_count attachment_url expires_at created_at updated_at reference reference_origin
    metadata
    """
)
RELATIONSHIPS = {
    "gift_cards": GIFT_CARD_RELATIONSHIPS,
    "gift_card_recipients": ATTACHABLE_RELATIONSHIPS,
    "markets": ATTACHABLE_RELATIONSHIPS,
    "versions": VERSION_RELATIONSHIPS,
    "events": EVENT_RELATIONSHIPS,
    "webhooks": WEBHOOK_RELATIONSHIPS,
    "event_callbacks": EVENT_CALLBACK_RELATIONSHIPS,
    "attachments": ATTACHMENT_RELATIONSHIPS,
    "balance_transfers": BALANCE_TRANSFER_RELATIONSHIPS,
}
FIELDS = {
    "gift_cards": GIFT_CARD_ATTRIBUTES + GIFT_CARD_RELATIONSHIPS,
    "gift_card_recipients": RECIPIENT_ATTRIBUTES + ATTACHABLE_RELATIONSHIPS,
    "markets": MARKET_ATTRIBUTES + ATTACHABLE_RELATIONSHIPS,
    "tags": TAG_ATTRIBUTES,
    "versions": VERSION_ATTRIBUTES + VERSION_RELATIONSHIPS,
    "events": EVENT_ATTRIBUTES + EVENT_RELATIONSHIPS,
    "webhooks": WEBHOOK_ATTRIBUTES + WEBHOOK_RELATIONSHIPS,
    "event_callbacks": EVENT_CALLBACK_ATTRIBUTES + EVENT_CALLBACK_RELATIONSHIPS,
    "attachments": ATTACHMENT_ATTRIBUTES + ATTACHMENT_RELATIONSHIPS,
    "balance_transfers": BALANCE_TRANSFER_ATTRIBUTES + BALANCE_TRANSFER_RELATIONSHIPS,
    "imports": IMPORT_ATTRIBUTES,
    "exports": EXPORT_ATTRIBUTES,
}
