"""Recipients, markets and tags: small CRUD resources of the key's business and mode.

Their writes move no money, so they are plain saves here; uniqueness is checked first for a
clear 409 and enforced by the database constraints as the backstop.
"""

from __future__ import annotations

from django.db import IntegrityError, transaction
from rest_framework import serializers
from rest_framework.relations import HyperlinkedIdentityField

from giftcards import money
from giftcards.jsonapi.errors import Conflict
from giftcards.jsonapi.fields import JsonObjectField, StrictCharField, StrictEmailField
from giftcards.jsonapi.serializers.base import ResourceSerializer
from giftcards.models import GiftCard, GiftCardRecipient, Market, Tag


class TenantWriteMixin:
    """Creates rows in the request's tenant and turns a lost uniqueness race into a 409."""

    unique_conflict = "Already exists."
    unique_pointer = "/data/attributes"

    def _save(self, instance):
        try:
            with transaction.atomic():
                instance.save()
        except IntegrityError as exc:
            raise Conflict(
                self.unique_conflict, code="duplicate", pointer=self.unique_pointer
            ) from exc
        return instance

    def create(self, validated_data):
        model = self.Meta.model
        tenant = self.context["tenant"]
        return self._save(model(business=tenant.business, mode=tenant.mode, **validated_data))

    def update(self, instance, validated_data):
        for name, value in validated_data.items():
            setattr(instance, name, value)
        return self._save(instance)


class GiftCardRecipientSerializer(TenantWriteMixin, ResourceSerializer):
    unique_conflict = "This business already has a recipient with that email."
    unique_pointer = "/data/attributes/email"

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

    def validate_email(self, value: str) -> str:
        value = value.strip()
        taken = GiftCardRecipient.objects.for_tenant(self.tenant).filter(email__iexact=value)
        if self.instance is not None:
            taken = taken.exclude(pk=self.instance.pk)
        if taken.exists():
            raise Conflict(self.unique_conflict, code="duplicate", pointer=self.unique_pointer)
        return value


class MarketSerializer(TenantWriteMixin, ResourceSerializer):
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
        if not money.is_known_currency(value):
            raise serializers.ValidationError(
                f"{value!r} is not an ISO 4217 currency code.", code="invalid_currency"
            )
        market = self.instance
        changes = market is not None and value != market.currency_code
        if changes and GiftCard.objects.filter(market=market).exists():
            raise Conflict(
                "The market has gift cards in its currency; its currency cannot change.",
                code="market_in_use",
                pointer="/data/attributes/currency_code",
            )
        return value


class TagSerializer(TenantWriteMixin, ResourceSerializer):
    unique_conflict = "This business already has a tag with that name."
    unique_pointer = "/data/attributes/name"

    url = HyperlinkedIdentityField(view_name="jsonapi-tag-detail")
    name = StrictCharField(max_length=100)
    created_at = serializers.DateTimeField(read_only=True)
    updated_at = serializers.DateTimeField(read_only=True)

    class Meta(ResourceSerializer.Meta):
        model = Tag
        resource_name = "tags"
        fields = ["url", "name", "created_at", "updated_at"]

    def validate_name(self, value: str) -> str:
        value = value.strip()
        if not value or "," in value:
            # `_add_tags`/`_remove_tags` take comma-separated names.
            raise serializers.ValidationError("A tag name is not empty and has no comma.")
        taken = Tag.objects.for_tenant(self.tenant).filter(name=value)
        if self.instance is not None:
            taken = taken.exclude(pk=self.instance.pk)
        if taken.exists():
            raise Conflict(self.unique_conflict, code="duplicate", pointer=self.unique_pointer)
        return value
