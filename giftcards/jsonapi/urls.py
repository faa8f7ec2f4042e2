"""Routes of the JSON:API (seed 003), mounted under /api/; a trailing slash is optional."""

from django.urls import re_path

from giftcards.jsonapi.views.attachments import AttachmentViewSet
from giftcards.jsonapi.views.base import NotFoundView
from giftcards.jsonapi.views.events import EventCallbackViewSet, EventViewSet, WebhookViewSet
from giftcards.jsonapi.views.exports import ExportDownloadView, ExportViewSet
from giftcards.jsonapi.views.gift_cards import GiftCardViewSet
from giftcards.jsonapi.views.imports import ImportViewSet
from giftcards.jsonapi.views.resources import (
    GiftCardRecipientViewSet,
    MarketViewSet,
    TagViewSet,
    VersionViewSet,
)
from giftcards.jsonapi.views.transfers import BalanceTransferViewSet

COLLECTION = {"get": "list", "post": "create"}
MEMBER = {"get": "retrieve", "patch": "partial_update", "delete": "destroy"}
LINKAGE = {
    "get": "relationship",
    "patch": "relationship_write",
    "post": "relationship_write",
    "delete": "relationship_write",
}
PK = r"(?P<pk>[^/]+)"
RELATED = r"(?P<related_field>[^/]+)"


def resource_routes(
    prefix: str, viewset, name: str, *, read_only: bool = False, immutable: bool = False
) -> list:
    """The collection and its members (other methods are 405s when `read_only`; when
    `immutable`, rows are created and never changed), and the relationships the viewset
    serves (`relations`)."""
    collection, member = COLLECTION, MEMBER
    if read_only or immutable:
        collection, member = ({"get": "list"}, {"get": "retrieve"})
    if immutable:
        collection = COLLECTION
    routes = [
        re_path(rf"^{prefix}/?$", viewset.as_view(collection), name=f"jsonapi-{name}-list"),
        re_path(rf"^{prefix}/{PK}/?$", viewset.as_view(member), name=f"jsonapi-{name}-detail"),
    ]
    if viewset.relations:
        routes += [
            re_path(
                rf"^{prefix}/{PK}/relationships/{RELATED}/?$",
                viewset.as_view(LINKAGE),
                name=f"jsonapi-{name}-relationships",
            ),
            re_path(
                rf"^{prefix}/{PK}/{RELATED}/?$",
                viewset.as_view({"get": "related"}),
                name=f"jsonapi-{name}-related",
            ),
        ]
    return routes


urlpatterns = [
    # Before the card routes: `lookup` is not a card id (ids have 22 characters).
    re_path(
        r"^gift_cards/lookup/?$",
        GiftCardViewSet.as_view({"post": "lookup"}),
        name="jsonapi-gift-card-lookup",
    ),
    *resource_routes("gift_cards", GiftCardViewSet, "gift-card"),
    *resource_routes("gift_card_recipients", GiftCardRecipientViewSet, "gift-card-recipient"),
    *resource_routes("markets", MarketViewSet, "market"),
    *resource_routes("tags", TagViewSet, "tag"),
    *resource_routes("attachments", AttachmentViewSet, "attachment"),
    *resource_routes(
        "balance_transfers", BalanceTransferViewSet, "balance-transfer", immutable=True
    ),
    *resource_routes("webhooks", WebhookViewSet, "webhook"),
    *resource_routes("imports", ImportViewSet, "import"),
    re_path(
        rf"^exports/{PK}/download/?$",
        ExportDownloadView.as_view(),
        name="jsonapi-export-download",
    ),
    *resource_routes("exports", ExportViewSet, "export"),
    *resource_routes("events", EventViewSet, "event", read_only=True),
    *resource_routes("event_callbacks", EventCallbackViewSet, "event-callback", read_only=True),
    re_path(
        rf"^versions/{PK}/?$",
        VersionViewSet.as_view({"get": "retrieve"}),
        name="jsonapi-version-detail",
    ),
    re_path(r"", NotFoundView.as_view(), name="jsonapi-not-found"),
]
