"""Recipients, markets and tags: small CRUD resources of the key's business and mode.

The views call `giftcards.catalogue` with what these validate; it holds their rules (unique
emails and tag names, known currencies, what cards still use), and its domain errors become
JSON:API errors in the one handler.
"""

from __future__ import annotations

from rest_framework import serializers

from giftcards.fields import JsonObjectField, StrictCharField, StrictEmailField
from giftcards.jsonapi.serializers.base import ResourceSerializer


class GiftCardRecipientSerializer(ResourceSerializer):
    email = StrictEmailField(max_length=254)
    first_name = StrictCharField(max_length=100, required=False, allow_blank=True)
    last_name = StrictCharField(max_length=100, required=False, allow_blank=True)
    reference = StrictCharField(max_length=255, required=False, allow_blank=True)
    reference_origin = StrictCharField(max_length=255, required=False, allow_blank=True)
    metadata = JsonObjectField(required=False)

    class Meta:
        resource_name = "gift_card_recipients"


class MarketSerializer(ResourceSerializer):
    name = StrictCharField(max_length=200)
    currency_code = StrictCharField(min_length=3, max_length=3)

    class Meta:
        resource_name = "markets"

    def validate_currency_code(self, value: str) -> str:
        # Attributes are typed and taken as sent (a card's "eur" is refused too); the service
        # would upper-case it, as it does for what staff type in the admin.
        if value != value.upper():
            raise serializers.ValidationError(
                f"{value!r} is not an ISO 4217 currency code.", code="invalid_currency"
            )
        return value


class TagSerializer(ResourceSerializer):
    name = StrictCharField(max_length=100)

    class Meta:
        resource_name = "tags"
