"""JSON:API serializers, one module per resource family."""

from giftcards.jsonapi.serializers.base import ResourceSerializer
from giftcards.jsonapi.serializers.gift_cards import GiftCardSerializer
from giftcards.jsonapi.serializers.resources import (
    GiftCardRecipientSerializer,
    MarketSerializer,
    TagSerializer,
)
from giftcards.jsonapi.serializers.versions import VersionSerializer

__all__ = [
    "GiftCardRecipientSerializer",
    "GiftCardSerializer",
    "MarketSerializer",
    "ResourceSerializer",
    "TagSerializer",
    "VersionSerializer",
]
