"""JSON:API serializers, one module per resource family."""

from giftcards.jsonapi.serializers.base import ResourceSerializer, sparse_field_names
from giftcards.jsonapi.serializers.gift_cards import GiftCardSerializer
from giftcards.jsonapi.serializers.resources import (
    GiftCardRecipientSerializer,
    MarketSerializer,
    TagSerializer,
)
from giftcards.jsonapi.serializers.versions import VersionSerializer

RESOURCE_SERIALIZERS = {
    serializer.Meta.resource_name: serializer
    for serializer in (
        GiftCardSerializer,
        GiftCardRecipientSerializer,
        MarketSerializer,
        TagSerializer,
        VersionSerializer,
    )
}

__all__ = [
    "RESOURCE_SERIALIZERS",
    "GiftCardRecipientSerializer",
    "GiftCardSerializer",
    "MarketSerializer",
    "ResourceSerializer",
    "TagSerializer",
    "VersionSerializer",
    "sparse_field_names",
]
