"""The `gift_cards` resource of seed 003: its attributes, relationships and triggers.

Reads render from the card and its ledger (prefetched by the view); validation is here, the
service calls of writes are in gift_card_writes.
"""

from __future__ import annotations

from rest_framework import serializers
from rest_framework.exceptions import ErrorDetail
from rest_framework.relations import HyperlinkedIdentityField
from rest_framework_json_api.relations import HyperlinkedRelatedField

from giftcards import codes, money, services
from giftcards.jsonapi.fields import (
    MAX_CENTS,
    JsonObjectField,
    NameListField,
    RecipientEmailField,
    StrictBooleanField,
    StrictCharField,
    StrictDateTimeField,
    StrictIntegerField,
    StrictURLField,
    TypedRelatedField,
)
from giftcards.jsonapi.serializers.base import ResourceSerializer, datetime_string
from giftcards.jsonapi.serializers.gift_card_writes import GiftCardWriteMixin
from giftcards.models import BalanceLog, GiftCard, GiftCardRecipient, Market, Status, Tag

RESOURCES = "giftcards.jsonapi.serializers.resources"
TRIGGERS = ("_purchase", "_activate", "_deactivate")
PATCH_ONLY = frozenset(
    {*TRIGGERS, "_balance_change_cents", "_order_reference", "_add_tags", "_remove_tags"}
)
USAGE_ACTIONS = {
    BalanceLog.Kind.DEBIT: "use",
    BalanceLog.Kind.REFUND: "refund",
    BalanceLog.Kind.RECHARGE: "recharge",
    BalanceLog.Kind.ADJUSTMENT: "adjustment",
}
# Set when the card is created; a PATCH may echo them unchanged.
CREATE_ONLY = {
    "status": "The status changes through _purchase, _activate, _deactivate and balance changes.",
    "code": "A card's code never changes after it is created.",
    "currency_code": "A card's currency never changes after it is created.",
}
RELATIONSHIP_LINKS = {
    "self_link_view_name": "jsonapi-gift-card-relationships",
    "related_link_view_name": "jsonapi-gift-card-related",
}


def _error(message: str, code: str = "invalid") -> list[ErrorDetail]:
    return [ErrorDetail(message, code=code)]


class GiftCardSerializer(GiftCardWriteMixin, ResourceSerializer):
    included_serializers = {
        "gift_card_recipient": f"{RESOURCES}.GiftCardRecipientSerializer",
        "market": f"{RESOURCES}.MarketSerializer",
        "tags": f"{RESOURCES}.TagSerializer",
    }

    url = HyperlinkedIdentityField(view_name="jsonapi-gift-card-detail")
    status = serializers.ChoiceField(choices=Status.values, required=False)
    code = StrictCharField(required=False, max_length=codes.MAX_LENGTH)
    currency_code = StrictCharField(required=False, min_length=3, max_length=3)
    initial_balance_cents = serializers.IntegerField(read_only=True)
    initial_balance_float = serializers.SerializerMethodField()
    formatted_initial_balance = serializers.SerializerMethodField()
    balance_cents = StrictIntegerField(required=False, min_value=0, max_value=MAX_CENTS)
    balance_float = serializers.SerializerMethodField()
    formatted_balance = serializers.SerializerMethodField()
    balance_max_cents = StrictIntegerField(
        required=False, allow_null=True, min_value=1, max_value=MAX_CENTS
    )
    balance_max_float = serializers.SerializerMethodField()
    formatted_balance_max = serializers.SerializerMethodField()
    balance_log = serializers.SerializerMethodField()
    usage_log = serializers.SerializerMethodField()
    single_use = StrictBooleanField(required=False)
    rechargeable = StrictBooleanField(required=False)
    distribute_discount = StrictBooleanField(required=False)
    image_url = StrictURLField(required=False, allow_null=True, allow_blank=True, max_length=2000)
    expires_at = StrictDateTimeField(required=False, allow_null=True)
    recipient_email = RecipientEmailField(
        required=False, allow_null=True, allow_blank=True, max_length=254
    )
    created_at = serializers.DateTimeField(read_only=True)
    updated_at = serializers.DateTimeField(read_only=True)
    reference = StrictCharField(required=False, allow_null=True, allow_blank=True, max_length=255)
    reference_origin = StrictCharField(
        required=False, allow_null=True, allow_blank=True, max_length=255
    )
    metadata = JsonObjectField(required=False)

    _purchase = StrictBooleanField(write_only=True, required=False)
    _activate = StrictBooleanField(write_only=True, required=False)
    _deactivate = StrictBooleanField(write_only=True, required=False)
    _balance_change_cents = StrictIntegerField(
        write_only=True, required=False, min_value=-MAX_CENTS, max_value=MAX_CENTS
    )
    _order_reference = StrictCharField(write_only=True, required=False, max_length=255)
    _add_tags = NameListField(write_only=True, required=False)
    _remove_tags = NameListField(write_only=True, required=False)

    market = TypedRelatedField(
        resource_type="markets",
        queryset=Market.objects.all(),
        required=False,
        allow_null=True,
        **RELATIONSHIP_LINKS,
    )
    gift_card_recipient = TypedRelatedField(
        resource_type="gift_card_recipients",
        source="recipient",
        queryset=GiftCardRecipient.objects.all(),
        required=False,
        allow_null=True,
        **RELATIONSHIP_LINKS,
    )
    tags = TypedRelatedField(
        resource_type="tags", model=Tag, many=True, read_only=True, **RELATIONSHIP_LINKS
    )
    versions = HyperlinkedRelatedField(
        many=True, read_only=True, related_link_view_name="jsonapi-gift-card-related"
    )
    # Seed 003's attachments and events: this service keeps neither, so both are empty.
    attachments = TypedRelatedField(
        resource_type="attachments",
        model=GiftCard,
        source="none_kept",
        many=True,
        read_only=True,
        default=list,
    )
    events = TypedRelatedField(
        resource_type="events",
        model=GiftCard,
        source="none_kept",
        many=True,
        read_only=True,
        default=list,
    )

    class Meta(ResourceSerializer.Meta):
        model = GiftCard
        resource_name = "gift_cards"
        fields = [
            "url",
            "status",
            "code",
            "currency_code",
            "initial_balance_cents",
            "initial_balance_float",
            "formatted_initial_balance",
            "balance_cents",
            "balance_float",
            "formatted_balance",
            "balance_max_cents",
            "balance_max_float",
            "formatted_balance_max",
            "balance_log",
            "usage_log",
            "single_use",
            "rechargeable",
            "distribute_discount",
            "image_url",
            "expires_at",
            "recipient_email",
            "created_at",
            "updated_at",
            "reference",
            "reference_origin",
            "metadata",
            *sorted(PATCH_ONLY),
            "market",
            "gift_card_recipient",
            "tags",
            "versions",
            "attachments",
            "events",
        ]

    # ------------------------------------------------------------------------ reading

    def none_kept(self, card: GiftCard) -> list:
        """The renderer's source for attachments and events."""
        return []

    def _format(self, cents: int | None, card: GiftCard) -> str | None:
        business = self.context.get("business") or card.business
        return money.format_cents(cents, card.currency_code, business.locale)

    def get_initial_balance_float(self, card: GiftCard) -> float | None:
        return money.to_float(card.initial_balance_cents, card.currency_code)

    def get_formatted_initial_balance(self, card: GiftCard) -> str | None:
        return self._format(card.initial_balance_cents, card)

    def get_balance_float(self, card: GiftCard) -> float | None:
        return money.to_float(card.balance_cents, card.currency_code)

    def get_formatted_balance(self, card: GiftCard) -> str | None:
        return self._format(card.balance_cents, card)

    def get_balance_max_float(self, card: GiftCard) -> float | None:
        return money.to_float(card.balance_max_cents, card.currency_code)

    def get_formatted_balance_max(self, card: GiftCard) -> str | None:
        return self._format(card.balance_max_cents, card)

    def get_balance_log(self, card: GiftCard) -> list[dict]:
        """Every ledger row, oldest first, the issue included: the changes sum to the
        balance."""
        return [
            {
                "datetime": datetime_string(entry.created_at),
                "balance_change_cents": entry.amount_cents,
                "kind": entry.kind,
                "balance_after_cents": entry.balance_after_cents,
                "order_reference": entry.order_reference or None,
            }
            for entry in card.ledger.all()
        ]

    def get_usage_log(self, card: GiftCard) -> dict[str, list[dict]]:
        """The ledger rows filed under an order reference, grouped by order."""
        usage: dict[str, list[dict]] = {}
        for entry in card.ledger.all():
            if not entry.order_reference or entry.kind not in USAGE_ACTIONS:
                continue
            usage.setdefault(entry.order_reference, []).append(
                {
                    "action": USAGE_ACTIONS[entry.kind],
                    "amount_cents": entry.amount_cents,
                    "balance_cents": entry.balance_after_cents,
                    "order_number": entry.order_reference,
                    "datetime": datetime_string(entry.created_at),
                }
            )
        return usage

    # ------------------------------------------------------------------------ validating

    def validate(self, attrs):
        errors = {}
        sent = set(self.initial_data)
        if self.instance is None:
            for name in sorted(PATCH_ONLY & sent):
                errors[name] = _error(f"{name} is only accepted on update (PATCH).")
            if "balance_cents" not in attrs:
                errors["balance_cents"] = _error("This field is required.", "required")
            if attrs.get("status", Status.DRAFT) not in services.ISSUABLE_STATUSES:
                errors["status"] = _error("A new card is draft, inactive or active.")
            if "code" in attrs:
                try:
                    codes.validate(attrs["code"])
                except codes.InvalidCode as exc:
                    errors["code"] = _error(str(exc), "invalid_code")
        else:
            errors.update(self._create_only_changes(attrs))
            if attrs.get("_activate") and attrs.get("_deactivate"):
                errors["_deactivate"] = _error("Cannot activate and deactivate at once.")
            change = attrs.get("_balance_change_cents")
            if "balance_cents" in attrs and change is not None:
                errors["_balance_change_cents"] = _error(
                    "Send balance_cents (an adjustment) or _balance_change_cents, not both."
                )
            elif change == 0:
                errors["_balance_change_cents"] = _error("A balance change cannot be zero.")
            if "_order_reference" in attrs and not change:
                errors["_order_reference"] = _error(
                    "_order_reference files a _balance_change_cents; send one with it."
                )
        email = attrs.get("recipient_email")
        recipient = attrs.get("recipient")
        if email and recipient is not None and recipient.email.lower() != email.strip().lower():
            errors["recipient_email"] = _error(
                "Does not match relationships.gift_card_recipient; send one of them."
            )
        if errors:
            raise serializers.ValidationError(errors)
        return attrs

    def _create_only_changes(self, attrs) -> dict:
        """`status`, `code` and `currency_code` may be echoed unchanged on PATCH, not changed."""
        card: GiftCard = self.instance
        current = {
            "status": card.status,
            "code": codes.normalise(card.code) if "code" in attrs else None,
            "currency_code": card.currency_code,
        }
        errors = {}
        for name, message in CREATE_ONLY.items():
            if name not in attrs:
                continue
            sent = attrs.pop(name)
            if (codes.normalise(sent) if name == "code" else sent) != current[name]:
                errors[name] = _error(message, "read_only")
        return errors
