"""`balance_transfers`: what a transfer document may carry. The view calls
`services.card_transfer` with it, which holds the rules (the cards' tenant, statuses,
balances and currency)."""

from __future__ import annotations

from giftcards.fields import JsonObjectField, StrictCharField
from giftcards.jsonapi.fields import MAX_CENTS, CardLinkageField, StrictIntegerField
from giftcards.jsonapi.serializers.base import ResourceSerializer


class BalanceTransferSerializer(ResourceSerializer):
    amount_cents = StrictIntegerField(min_value=1, max_value=MAX_CENTS)
    reference = StrictCharField(required=False, allow_null=True, allow_blank=True, max_length=255)
    reference_origin = StrictCharField(
        required=False, allow_null=True, allow_blank=True, max_length=255
    )
    metadata = JsonObjectField(required=False, allow_null=True)
    source = CardLinkageField()
    target = CardLinkageField()

    class Meta:
        resource_name = "balance_transfers"
