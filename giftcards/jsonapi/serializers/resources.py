"""Recipients, markets and tags: small CRUD resources of the key's business and mode.

Writes go through `giftcards.catalogue`, which holds their rules (unique emails and tag
names, known currencies, what cards still use); its domain errors become JSON:API errors in
the one handler.
"""

from __future__ import annotations

from rest_framework import serializers
from rest_framework.relations import HyperlinkedIdentityField

from giftcards import catalogue
from giftcards.jsonapi.fields import JsonObjectField, StrictCharField, StrictEmailField
from giftcards.jsonapi.serializers.base import ResourceSerializer
from giftcards.models import GiftCardRecipient, Market, Tag


class GiftCardRecipientSerializer(ResourceSerializer):
    url = HyperlinkedIdentityField(view_name="jsonapi-gift-card-recipient-detail")
    email = StrictEmailField(max_length=254)
    first_name = StrictCharField(max_length=100, required=False, allow_blank=True)
    last_name = StrictCharField(max_length=100, required=False, allow_blank=True)
    reference = StrictCharField(max_length=255, required=False, allow_blank=True)
    reference_origin = StrictCharField(max_length=255, required=False, allow_blank=True)
    metadata = JsonObjectField(required=False)
    created_at = serializers.DateTimeField(read_only=True)
    updated_at = serializers.DateTimeField(read_only=True)

    class Meta(ResourceSerializer.Meta):
        model = GiftCardRecipient
        resource_name = "gift_card_recipients"
        fields = [
            "url",
            "email",
            "first_name",
            "last_name",
            "reference",
            "reference_origin",
            "metadata",
            "created_at",
            "updated_at",
        ]

    def create(self, validated_data):
        return catalogue.recipient_create(tenant=self.tenant, actor=self.actor, **validated_data)

    def update(self, instance, validated_data):
        return catalogue.recipient_update(recipient=instance, actor=self.actor, **validated_data)


class MarketSerializer(ResourceSerializer):
    url = HyperlinkedIdentityField(view_name="jsonapi-market-detail")
    name = StrictCharField(max_length=200)
    currency_code = StrictCharField(min_length=3, max_length=3)
    created_at = serializers.DateTimeField(read_only=True)
    updated_at = serializers.DateTimeField(read_only=True)

    class Meta(ResourceSerializer.Meta):
        model = Market
        resource_name = "markets"
        fields = ["url", "name", "currency_code", "created_at", "updated_at"]

    def validate_currency_code(self, value: str) -> str:
        # Attributes are typed and taken as sent (a card's "eur" is refused too); the service
        # would upper-case it, as it does for what staff type in the admin.
        if value != value.upper():
            raise serializers.ValidationError(
                f"{value!r} is not an ISO 4217 currency code.", code="invalid_currency"
            )
        return value

    def create(self, validated_data):
        return catalogue.market_create(tenant=self.tenant, actor=self.actor, **validated_data)

    def update(self, instance, validated_data):
        return catalogue.market_update(market=instance, actor=self.actor, **validated_data)


class TagSerializer(ResourceSerializer):
    url = HyperlinkedIdentityField(view_name="jsonapi-tag-detail")
    name = StrictCharField(max_length=100)
    created_at = serializers.DateTimeField(read_only=True)
    updated_at = serializers.DateTimeField(read_only=True)

    class Meta(ResourceSerializer.Meta):
        model = Tag
        resource_name = "tags"
        fields = ["url", "name", "created_at", "updated_at"]

    def create(self, validated_data):
        return catalogue.tag_create(tenant=self.tenant, actor=self.actor, **validated_data)

    def update(self, instance, validated_data):
        return catalogue.tag_update(tag=instance, actor=self.actor, **validated_data)
