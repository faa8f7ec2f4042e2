"""Recipients, markets, tags, and single card versions. Recipients and markets have
attachments (a relationship with its own routes; `include=attachments`)."""

from __future__ import annotations

from rest_framework.response import Response

from giftcards import catalogue, selectors
from giftcards.filters import GiftCardRecipientFilterSet, MarketFilterSet, TagFilterSet
from giftcards.jsonapi.serializers.resources import (
    GiftCardRecipientSerializer,
    MarketSerializer,
    TagSerializer,
)
from giftcards.jsonapi.serializers.versions import (
    HistoricalGiftCard,
    VersionSerializer,
    ordered_versions,
    page_changes,
)
from giftcards.jsonapi.views.base import Relation, ResourceViewSet
from giftcards.models import GiftCardRecipient, Market, Tag


class AttachableViewSet(ResourceViewSet):
    """A resource things can be attached to."""

    includable = {"attachments": "attachments"}
    relations = {"attachments": Relation("attachments")}

    def related_rows(self, row, name):
        return selectors.attachments_of(
            tenant=self.tenant, attachable_type=self.resource_name, attachable_id=row.pk
        )


class GiftCardRecipientViewSet(AttachableViewSet):
    model = GiftCardRecipient
    resource_name = "gift_card_recipients"
    serializer_class = GiftCardRecipientSerializer
    build = "recipient"
    filterset_class = GiftCardRecipientFilterSet
    sort_fields = {
        name: name for name in ("id", "email", "first_name", "last_name", "reference", "created_at")
    }
    sort_fields["updated_at"] = "updated_at"

    def create_resource(self, attributes):
        return catalogue.recipient_create(tenant=self.tenant, actor=self.actor, **attributes)

    def update_resource(self, recipient, attributes):
        return catalogue.recipient_update(recipient=recipient, actor=self.actor, **attributes)

    def perform_destroy(self, recipient):
        catalogue.recipient_delete(recipient=recipient, actor=self.actor)


class MarketViewSet(AttachableViewSet):
    model = Market
    resource_name = "markets"
    serializer_class = MarketSerializer
    build = "market"
    filterset_class = MarketFilterSet
    sort_fields = {name: name for name in ("id", "name", "currency_code", "created_at")}

    def create_resource(self, attributes):
        return catalogue.market_create(tenant=self.tenant, actor=self.actor, **attributes)

    def update_resource(self, market, attributes):
        return catalogue.market_update(market=market, actor=self.actor, **attributes)

    def perform_destroy(self, market):
        catalogue.market_delete(market=market, actor=self.actor)


class TagViewSet(ResourceViewSet):
    model = Tag
    resource_name = "tags"
    serializer_class = TagSerializer
    build = "tag"
    filterset_class = TagFilterSet
    default_sort = ("name", "id")
    sort_fields = {name: name for name in ("id", "name", "created_at")}

    def create_resource(self, attributes):
        return catalogue.tag_create(tenant=self.tenant, actor=self.actor, **attributes)

    def update_resource(self, tag, attributes):
        return catalogue.tag_update(tag=tag, actor=self.actor, **attributes)

    def perform_destroy(self, tag):
        catalogue.tag_delete(tag=tag, actor=self.actor)


class VersionViewSet(ResourceViewSet):
    """GET /api/versions/{id}: one version of a card the key can see."""

    model = HistoricalGiftCard
    resource_name = "versions"
    serializer_class = VersionSerializer

    def get_queryset(self):
        tenant = self.tenant
        return ordered_versions(
            HistoricalGiftCard.objects.filter(
                history_relation__business=tenant.business,
                history_relation__mode=tenant.mode,
                history_relation__deleted_at__isnull=True,
            )
        )

    def retrieve(self, request, *args, **kwargs):
        record = self.get_object()
        docs = self.documents()
        return Response(docs.one(docs.version(record, page_changes([record])[0])))
