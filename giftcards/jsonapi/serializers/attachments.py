"""`attachments`: what an attachment document may carry. The views call giftcards.attachments
with it, which holds the rules (what may be attached to, the URL's form)."""

from __future__ import annotations

from giftcards.fields import JsonObjectField, StrictCharField, StrictURLField
from giftcards.jsonapi.fields import AttachableField
from giftcards.jsonapi.serializers.base import ResourceSerializer


class AttachmentSerializer(ResourceSerializer):
    name = StrictCharField(max_length=255)
    description = StrictCharField(
        required=False, allow_null=True, allow_blank=True, max_length=10_000
    )
    url = StrictURLField(required=False, allow_null=True, allow_blank=True, max_length=2000)
    reference = StrictCharField(required=False, allow_null=True, allow_blank=True, max_length=255)
    reference_origin = StrictCharField(
        required=False, allow_null=True, allow_blank=True, max_length=255
    )
    metadata = JsonObjectField(required=False, allow_null=True)
    # {"type": "gift_cards" | "gift_card_recipients" | "markets", "id": ...}: becomes
    # attachable_type and attachable_id.
    attachable = AttachableField(source="*")

    class Meta:
        resource_name = "attachments"
