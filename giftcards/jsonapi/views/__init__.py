"""The JSON:API views (seed 003): gift cards, recipients, markets, tags and card versions.

Every queryset starts at `for_tenant(request.user.tenant)`: another business's or mode's
rows, and soft-deleted cards, are 404s on every route, relationships and includes too.
"""

from giftcards.jsonapi.views.base import NotFoundView, ResourceViewSet
from giftcards.jsonapi.views.gift_cards import GiftCardViewSet
from giftcards.jsonapi.views.resources import (
    GiftCardRecipientViewSet,
    MarketViewSet,
    TagViewSet,
    VersionViewSet,
)

__all__ = [
    "GiftCardRecipientViewSet",
    "GiftCardViewSet",
    "MarketViewSet",
    "NotFoundView",
    "ResourceViewSet",
    "TagViewSet",
    "VersionViewSet",
]
