"""Each resource's filterable attributes, by kind (giftcards.filters.predicates gives each
kind its predicates)."""

from __future__ import annotations

from giftcards.filters.predicates import Attribute, PredicateFilterSet, ValueFilterSet
from giftcards.models import (
    AttachableType,
    Attachment,
    BalanceTransfer,
    CircuitState,
    EventCallback,
    GiftCard,
    GiftCardRecipient,
    Market,
    Status,
    Tag,
    Webhook,
)


def _attributes(*specs: tuple) -> tuple[Attribute, ...]:
    return tuple(Attribute(*spec) for spec in specs)


class GiftCardFilterSet(PredicateFilterSet):
    attributes = _attributes(
        ("id", "id"),
        ("status", "choice", "", tuple(Status.values)),
        ("code", "code"),
        ("currency_code", "string"),
        ("balance_cents", "integer"),
        ("initial_balance_cents", "integer"),
        ("balance_max_cents", "integer"),
        ("single_use", "boolean"),
        ("rechargeable", "boolean"),
        ("distribute_discount", "boolean"),
        ("expires_at", "datetime"),
        ("created_at", "datetime"),
        ("updated_at", "datetime"),
        ("reference", "string"),
        ("reference_origin", "string"),
        ("metadata", "json"),
        ("recipient_email", "email", "recipient__email"),
        # Relationships, as Commerce Layer names them: <relationship>_<attribute>.
        ("market_id", "integer", "market_id"),
        ("market_name", "string", "market__name"),
        ("market_currency_code", "string", "market__currency_code"),
        ("gift_card_recipient_id", "integer", "recipient_id"),
        ("gift_card_recipient_email", "email", "recipient__email"),
        ("gift_card_recipient_first_name", "string", "recipient__first_name"),
        ("gift_card_recipient_last_name", "string", "recipient__last_name"),
        ("gift_card_recipient_reference", "string", "recipient__reference"),
        ("tags_id", "integer", "tags__id", (), True),
        ("tags_name", "string", "tags__name", (), True),
    )

    class Meta:
        model = GiftCard
        fields: list[str] = []


class GiftCardRecipientFilterSet(PredicateFilterSet):
    attributes = _attributes(
        ("id", "integer"),
        ("email", "email"),
        ("first_name", "string"),
        ("last_name", "string"),
        ("reference", "string"),
        ("reference_origin", "string"),
        ("metadata", "json"),
        ("created_at", "datetime"),
        ("updated_at", "datetime"),
    )

    class Meta:
        model = GiftCardRecipient
        fields: list[str] = []


class MarketFilterSet(PredicateFilterSet):
    attributes = _attributes(
        ("id", "integer"),
        ("name", "string"),
        ("currency_code", "string"),
        ("created_at", "datetime"),
    )

    class Meta:
        model = Market
        fields: list[str] = []


class TagFilterSet(PredicateFilterSet):
    attributes = _attributes(
        ("id", "integer"),
        ("name", "string"),
        ("created_at", "datetime"),
    )

    class Meta:
        model = Tag
        fields: list[str] = []


class EventFilterSet(ValueFilterSet):
    """The topics (`GET /api/events`), by name; an event's id is its name."""

    attributes = _attributes(("id", "id", "name"), ("name", "string"))


class WebhookFilterSet(PredicateFilterSet):
    attributes = _attributes(
        ("id", "integer"),
        ("name", "string"),
        ("topic", "string"),
        ("callback_url", "string"),
        ("circuit_state", "choice", "", tuple(CircuitState.values)),
        ("disabled_at", "datetime"),
        ("created_at", "datetime"),
        ("updated_at", "datetime"),
        ("reference", "string"),
        ("reference_origin", "string"),
        ("metadata", "json"),
    )

    class Meta:
        model = Webhook
        fields: list[str] = []


class EventCallbackFilterSet(PredicateFilterSet):
    attributes = _attributes(
        ("id", "integer"),
        ("response_code", "string"),
        ("webhook_id", "integer"),
        ("created_at", "datetime"),
    )

    class Meta:
        model = EventCallback
        fields: list[str] = []


class AttachmentFilterSet(PredicateFilterSet):
    attributes = _attributes(
        ("id", "integer"),
        ("name", "string"),
        ("attachable_type", "choice", "", tuple(AttachableType.values)),
        ("attachable_id", "string"),
        ("created_at", "datetime"),
        ("updated_at", "datetime"),
        ("reference", "string"),
        ("reference_origin", "string"),
        ("metadata", "json"),
    )

    class Meta:
        model = Attachment
        fields: list[str] = []


class BalanceTransferFilterSet(PredicateFilterSet):
    attributes = _attributes(
        ("id", "id"),
        ("amount_cents", "integer"),
        ("currency_code", "string"),
        ("source_id", "id"),
        ("target_id", "id"),
        ("created_at", "datetime"),
        ("reference", "string"),
        ("reference_origin", "string"),
        ("metadata", "json"),
    )

    class Meta:
        model = BalanceTransfer
        fields: list[str] = []
