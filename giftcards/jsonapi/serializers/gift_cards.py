"""The `gift_cards` resource of seed 003: validation of its attributes, relationships and
triggers. Documents are built in documents.py; gift_card_writes turns what is validated here
into a service call.
"""

from __future__ import annotations

from rest_framework import serializers
from rest_framework.exceptions import ErrorDetail

from giftcards import codes, services
from giftcards.fields import (
    JsonObjectField,
    StrictBooleanField,
    StrictCharField,
    StrictDateTimeField,
    StrictURLField,
)
from giftcards.jsonapi.fields import (
    MAX_CENTS,
    NameListField,
    RecipientEmailField,
    StrictIntegerField,
    TypedRelatedField,
)
from giftcards.jsonapi.serializers.base import ResourceSerializer
from giftcards.models import GiftCardRecipient, Market, Status, Tag

TRIGGERS = ("_purchase", "_activate", "_deactivate")
PATCH_ONLY = frozenset(
    {*TRIGGERS, "_balance_change_cents", "_order_reference", "_add_tags", "_remove_tags"}
)
# Set when the card is created; a PATCH may echo them unchanged.
CREATE_ONLY = {
    "status": "The status changes through _purchase, _activate, _deactivate and balance changes.",
    "code": "A card's code never changes after it is created.",
    "currency_code": "A card's currency never changes after it is created.",
}


# Each tag of a linkage is looked up on its own: a bound on the lookups of one request.
MAX_TAG_LINKAGE = 100


class TagLinkageField(serializers.ManyRelatedField):
    """The tags linkage of a card: at most MAX_TAG_LINKAGE tags of the key's tenant."""

    default_error_messages = {"too_many": f"At most {MAX_TAG_LINKAGE} tags."}

    def to_internal_value(self, data):
        if isinstance(data, list) and len(data) > MAX_TAG_LINKAGE:
            self.fail("too_many")
        return super().to_internal_value(data)


def _error(message: str, code: str = "invalid") -> list[ErrorDetail]:
    return [ErrorDetail(message, code=code)]


class GiftCardSerializer(ResourceSerializer):
    status = serializers.ChoiceField(choices=Status.values, required=False)
    code = StrictCharField(required=False, max_length=codes.MAX_LENGTH)
    currency_code = StrictCharField(required=False, min_length=3, max_length=3)
    balance_cents = StrictIntegerField(required=False, min_value=0, max_value=MAX_CENTS)
    balance_max_cents = StrictIntegerField(
        required=False, allow_null=True, min_value=1, max_value=MAX_CENTS
    )
    single_use = StrictBooleanField(required=False)
    rechargeable = StrictBooleanField(required=False)
    distribute_discount = StrictBooleanField(required=False)
    image_url = StrictURLField(required=False, allow_null=True, allow_blank=True, max_length=2000)
    expires_at = StrictDateTimeField(required=False, allow_null=True)
    recipient_email = RecipientEmailField(
        required=False, allow_null=True, allow_blank=True, max_length=254
    )
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
    )
    gift_card_recipient = TypedRelatedField(
        resource_type="gift_card_recipients",
        source="recipient",
        queryset=GiftCardRecipient.objects.all(),
        required=False,
        allow_null=True,
    )
    # Replaces the card's tags (by id, of the key's business and mode); `_add_tags` and
    # `_remove_tags` change them by name.
    tags = TagLinkageField(
        child_relation=TypedRelatedField(resource_type="tags", queryset=Tag.objects.all()),
        required=False,
    )

    class Meta:
        resource_name = "gift_cards"

    # ------------------------------------------------------------------------ validating

    def validate(self, attrs):
        errors = {}
        sent = set(self.initial_data)
        if not self.updating:
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

    @property
    def updating(self) -> bool:
        return "current" in self.context

    def _create_only_changes(self, attrs) -> dict:
        """`status`, `code` and `currency_code` may be echoed unchanged on PATCH, not changed."""
        errors = {}
        for name, message in CREATE_ONLY.items():
            if name not in attrs:
                continue
            sent, current = attrs.pop(name), self.current_attributes()[name]
            if name == "code":
                sent, current = codes.normalise(sent), codes.normalise(current)
            if sent != current:
                errors[name] = _error(message, "read_only")
        return errors
