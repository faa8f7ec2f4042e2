"""Routes of the JSON:API (seed 003), mounted under /api/; a trailing slash is optional."""

from django.urls import re_path

from giftcards.jsonapi.views.base import NotFoundView
from giftcards.jsonapi.views.gift_cards import GiftCardViewSet
from giftcards.jsonapi.views.resources import (
    GiftCardRecipientViewSet,
    MarketViewSet,
    TagViewSet,
    VersionViewSet,
)

COLLECTION = {"get": "list", "post": "create"}
MEMBER = {"get": "retrieve", "patch": "partial_update", "delete": "destroy"}
PK = r"(?P<pk>[^/]+)"


def resource_routes(prefix: str, viewset, name: str) -> list:
    return [
        re_path(rf"^{prefix}/?$", viewset.as_view(COLLECTION), name=f"jsonapi-{name}-list"),
        re_path(rf"^{prefix}/{PK}/?$", viewset.as_view(MEMBER), name=f"jsonapi-{name}-detail"),
    ]


urlpatterns = [
    # Before the card routes: `lookup` is not a card id (ids have 22 characters).
    re_path(
        r"^gift_cards/lookup/?$",
        GiftCardViewSet.as_view({"post": "lookup"}),
        name="jsonapi-gift-card-lookup",
    ),
    *resource_routes("gift_cards", GiftCardViewSet, "gift-card"),
    re_path(
        rf"^gift_cards/{PK}/relationships/(?P<related_field>[^/]+)/?$",
        GiftCardViewSet.as_view(
            {
                "get": "relationship",
                "patch": "relationship_write",
                "post": "relationship_write",
                "delete": "relationship_write",
            }
        ),
        name="jsonapi-gift-card-relationships",
    ),
    re_path(
        rf"^gift_cards/{PK}/(?P<related_field>[^/]+)/?$",
        GiftCardViewSet.as_view({"get": "related"}),
        name="jsonapi-gift-card-related",
    ),
    *resource_routes("gift_card_recipients", GiftCardRecipientViewSet, "gift-card-recipient"),
    *resource_routes("markets", MarketViewSet, "market"),
    *resource_routes("tags", TagViewSet, "tag"),
    re_path(
        rf"^versions/{PK}/?$",
        VersionViewSet.as_view({"get": "retrieve"}),
        name="jsonapi-version-detail",
    ),
    re_path(r"", NotFoundView.as_view(), name="jsonapi-not-found"),
]
